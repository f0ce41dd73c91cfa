// Log sequence numbers (pure).

/** "16/B374D848" -> bytes (pure). */
export function lsnToBytes(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn);
  if (!m) return null;
  return (BigInt('0x' + m[1]) << 32n) + BigInt('0x' + m[2]);
}

/** bytes -> "16/B374D848", as PostgreSQL prints an LSN (%X/%X: no leading zeros; pg_waldump pads, backup.info does not) (pure). */
export function bytesToLsn(b: bigint): string {
  return `${(b >> 32n).toString(16).toUpperCase()}/${(b & 0xffffffffn).toString(16).toUpperCase()}`;
}
