// The ebpf mode's registry entry: tc (and, next, XDP) programs reading BPF
// maps pinned under --bpffs-root; /v1/maps and /v1/conntrack show them.
import { defineMode, type ModeDefinition } from '../modes.js';
import { EbpfProxier, cleanupEbpf } from './proxier.js';
import { conntrackRoutes } from './routes/conntrack.js';
import { mapRoutes } from './routes/maps.js';

export const ebpfMode: ModeDefinition = defineMode<EbpfProxier>({
  // IPv6 comes as a second family proxier (issue 21); the meta proxier reports it until then.
  families: ['IPv4'],
  create({ options, logger }) {
    return new EbpfProxier({
      objectDir: options.ebpf.objectDir,
      pinRoot: options.ebpf.bpffsRoot,
      mapSizes: options.ebpf.mapSizes,
      devices: options.ebpf.devices,
      acceleration: options.ebpf.acceleration,
      ...(options.ebpf.lbAlgorithm === 'maglev' ? { maglevTableSize: options.ebpf.maglevTableSize } : {}),
      masqueradeAll: options.masqueradeAll,
      clusterCidrs: options.clusterCIDRs,
      ...(options.ebpf.cgroupRoot ? { cgroupRoot: options.ebpf.cgroupRoot } : {}),
      logger: logger.child({ proxier: 'ebpf' }),
    });
  },
  periods: (options) => options.sync,
  async cleanup({ options, logger }) {
    cleanupEbpf({ pinRoot: options.ebpf.bpffsRoot, devices: options.ebpf.devices, logger });
  },
  routes(app, ctx, proxier) {
    mapRoutes(app, ctx, proxier);
    conntrackRoutes(app, ctx, proxier);
  },
});
