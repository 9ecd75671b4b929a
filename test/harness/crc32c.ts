// CRC32c (Castagnoli), written here from RFC 9260 Appendix B, independently
// of the dataplane's incremental update (bpf/lib/sctp.h): the reflected
// polynomial 0x82f63b78, a byte-at-a-time table, the register preset to all
// ones and the result inverted. SCTP stores it least significant byte first.

const POLY = 0x82f63b78;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32c of `data`, as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The checksum an SCTP packet (common header onward) should carry: its CRC32c with the checksum field zero. */
export function sctpChecksum(sctp: Buffer): number {
  const zeroed = Buffer.from(sctp);
  zeroed.writeUInt32LE(0, 8);
  return crc32c(zeroed);
}
