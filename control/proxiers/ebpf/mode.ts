// The ebpf mode's registry entry: tc (and, next, XDP) programs reading BPF
// maps pinned under --bpffs-root; /v1/maps and /v1/conntrack show them.
import { FAMILIES } from '../dual-stack.js';
import { defineMode, type ModeDefinition } from '../modes.js';
import { EbpfProxier, cleanupEbpf } from './proxier.js';
import { conntrackRoutes } from './routes/conntrack.js';
import { mapRoutes } from './routes/maps.js';

/**
 * The IPv4 proxier made for each daemon's options: the IPv6 one made next
 * shares its dataplane (the maps hold both families' 16-byte addresses).
 */
const primaries = new WeakMap<object, EbpfProxier>();

export const ebpfMode: ModeDefinition = defineMode<EbpfProxier>({
  // A proxier per family, as the meta proxier hands out their shares; the
  // IPv6 one shares the IPv4 one's objects, maps and attachments
  // (createProxier makes them in FAMILIES order: IPv4 first).
  families: FAMILIES,
  create({ options, logger }, family) {
    const primary = family === 'IPv6' ? primaries.get(options) : undefined;
    const proxier = new EbpfProxier({
      family,
      ...(primary ? { shared: primary } : {}),
      objectDir: options.ebpf.objectDir,
      pinRoot: options.ebpf.bpffsRoot,
      mapSizes: options.ebpf.mapSizes,
      devices: options.ebpf.devices,
      acceleration: options.ebpf.acceleration,
      ...(options.ebpf.lbAlgorithm === 'maglev' ? { maglevTableSize: options.ebpf.maglevTableSize } : {}),
      masqueradeAll: options.masqueradeAll,
      clusterCidrs: options.clusterCIDRs,
      ...(options.ebpf.cgroupRoot ? { cgroupRoot: options.ebpf.cgroupRoot } : {}),
      logger: logger.child({ proxier: 'ebpf', family }),
    });
    if (family === 'IPv4') primaries.set(options, proxier);
    return proxier;
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
