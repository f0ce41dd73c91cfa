// Log sequence numbers (pure).

/** "16/B374D848" -> bytes (pure). */
export function lsnToBytes(lsn: string | null | undefined): bigint | null {
  if (!lsn) return null;
  const m = /^([0-9A-Fa-f]+)\/([0-9A-Fa-f]+)$/.exec(lsn);
  if (!m) return null;
  return (BigInt('0x' + m[1]) << 32n) + BigInt('0x' + m[2]);
}
