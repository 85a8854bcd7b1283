/**
 * The Redis Cluster slot of a key (CRC16/XMODEM of the hash tag or the whole
 * key, modulo 16384), as the cluster spec defines it. Lets tests check slot
 * placement against a standalone Redis, where CLUSTER KEYSLOT is unavailable.
 */

function crc16(data: Buffer): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/** The part of a key that is hashed: the first non-empty `{…}`, else the whole key. */
export function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function clusterSlot(key: string): number {
  return crc16(Buffer.from(hashedPart(key), 'utf8')) % 16_384;
}

export function crc16Xmodem(text: string): number {
  return crc16(Buffer.from(text, 'utf8'));
}
