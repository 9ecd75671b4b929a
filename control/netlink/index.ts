// IPVS: the kernel's virtual servers through generic netlink (the addon),
// typed, with one catalogue of errors.
export { Ipvs, type ApplyReport, type OpenOptions } from './ipvs.js';
export { IpvsError, IpvsErrorCode, NO_IPVS_HINT } from './errors.js';
export { requireIpvs, type IpvsRequirementOptions } from './availability.js';
export * from './types.js';
