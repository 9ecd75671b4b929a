// The model: pure functions from slim Kubernetes objects to ServicePortState.
export type { EndpointState, NodeContext, ServicePortName, ServicePortState } from './types.js';
export { canonicalIP, hostPort, ipFamilyOf } from './address.js';
export { endpointsForServicePort, slicesOfService } from './endpoints.js';
export {
  SERVICE_PROXY_NAME_LABEL,
  buildServicePorts,
  isExternallyAccessible,
  servicePortName,
  shouldProxy,
  shouldSkipService,
} from './service-port.js';
export {
  availableForTopology,
  categorizeEndpoints,
  topologyModeFromHints,
  usesClusterEndpoints,
  usesLocalEndpoints,
} from './topology.js';
export type { CategorizeInput, CategorizedEndpoints, TopologyMode } from './topology.js';
