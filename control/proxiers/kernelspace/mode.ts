// The kernelspace mode's registry entry: kube-proxy's winkernel, programming
// VFP through HNS on a Windows node. Nothing here loads native code: the HCN
// library (koffi over computenetwork.dll) is loaded by the proxiers' start,
// so the definition, its routes and its tests load on Linux too, where the
// registry refuses to run the mode (ERR_PROXY_MODE_PLATFORM).
import { parseBindAddress } from '../../config/values.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import type { HcnApi } from './hcn/api.js';
import { HnsHost, KernelspaceProxier } from './proxier.js';
import { hnsRoutes } from './routes.js';

export interface KernelspaceModeDeps {
  /** The HCN library; koffi over the Windows DLLs by default. */
  api?: () => Promise<HcnApi>;
  /** How long start-up waits for the CNI to create the network (default 60 s). */
  networkWaitMs?: number;
  /** The MAC of the node-IP interface (tests; os.networkInterfaces() by default). */
  hostMacOf?: (ip: string) => string | undefined;
  env?: NodeJS.ProcessEnv;
}

const windowsHcn = async (): Promise<HcnApi> => (await import('./hcn/koffi.js')).loadHcnApi();

/** The mode's definition over an HCN library: the DLL on Windows, the emulator in tests. */
export function defineKernelspaceMode(deps: KernelspaceModeDeps = {}): ModeDefinition {
  // One HNS session for both families of one daemon.
  let host: HnsHost | undefined;
  const hostFor = (
    options: Parameters<ModeDefinition['create']>[0]['options'],
    logger: HnsHost['options']['logger'],
  ) => {
    host ??= new HnsHost({
      api: deps.api ?? windowsHcn,
      winkernel: options.winkernel,
      ...((deps.env ?? process.env).KUBE_NETWORK ? { envNetworkName: (deps.env ?? process.env).KUBE_NETWORK! } : {}),
      networkWaitMs: deps.networkWaitMs ?? 60_000,
      logger,
    });
    return host;
  };
  return defineMode<KernelspaceProxier>({
    families: ['IPv4', 'IPv6'],
    create({ options, logger }, family) {
      const log = logger.child({ proxier: 'kernelspace', family });
      return new KernelspaceProxier({
        host: hostFor(options, logger.child({ proxier: 'kernelspace' })),
        family,
        winkernel: options.winkernel,
        healthzPort: healthzPort(options.healthzBindAddress),
        logger: log,
        ...(deps.hostMacOf ? { hostMacOf: deps.hostMacOf } : {}),
      });
    },
    // kube-proxy's winkernel proxier runs on the iptables sync periods, and so does this mode.
    periods: (options) => options.sync,
    async cleanup({ options, logger }) {
      // Only on the node it runs on: the registry never calls this off Windows, save a test's own registry.
      const h = hostFor(options, logger.child({ proxier: 'kernelspace' }));
      for (const family of ['IPv4', 'IPv6'] as const) {
        const p = new KernelspaceProxier({
          host: h,
          family,
          winkernel: options.winkernel,
          healthzPort: healthzPort(options.healthzBindAddress),
          logger: logger.child({ proxier: 'kernelspace', family }),
        });
        await p.start();
        await p.cleanup();
      }
    },
    routes: (app, ctx, proxier) => hnsRoutes(app, ctx, proxier),
  });
}

/** The port of --healthz-bind-address (10256 when it is disabled, kube-proxy's default). */
function healthzPort(bind: string): number {
  if (!bind) return 10256;
  const port = Number(parseBindAddress(bind, 10256).split(':').pop());
  return Number.isInteger(port) && port > 0 ? port : 10256;
}

export const kernelspaceMode: ModeDefinition = defineKernelspaceMode();
