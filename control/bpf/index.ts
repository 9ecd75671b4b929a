// The BPF layer: objects, maps, programs, codecs and errors.
export { BpfObject, type LoadOptions, type OpenOptions } from './object.js';
export { compareMapSpecs, formatDifferences, onlySizeDiffers, type MapDifference, type MapSpec } from './map-spec.js';
export type { PinnedMapMigration } from './pins.js';
export { BpfMap, TypedMap, type MapInfo, type UpdateFlag } from './map.js';
export {
  BpfProgram,
  TcAttachment,
  XdpAttachment,
  CgroupAttachment,
  type Attachment,
  type TcDirection,
  type XdpMode,
} from './program.js';
export { derive, formatIpv6, writeIpv6, type Codec, type FieldFormat, type Formats } from './codec.js';
export { BpfError, BpfErrorCode } from './errors.js';
export type { BtfType, BtfMember, BatchResult, NativeObjectBtf as ObjectBtf, TestRunResult } from '../native/addon.js';
