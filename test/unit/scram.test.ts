import { describe, it, expect } from '@jest/globals';
import { createHash, createHmac } from 'node:crypto';
import { scramMatches, scramVerifier } from '../../src/postgres/scram.js';

const SALT = Buffer.from('0123456789abcdef');
const FORMAT = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

function parts(verifier: string) {
  const m = FORMAT.exec(verifier);
  if (!m) throw new Error(`not a verifier: ${verifier}`);
  return { iterations: Number(m[1]), salt: Buffer.from(m[2], 'base64'), storedKey: Buffer.from(m[3], 'base64'), serverKey: Buffer.from(m[4], 'base64') };
}

describe('scramVerifier', () => {
  it('has the format SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>', () => {
    const v = scramVerifier('secret', SALT);
    expect(v).toMatch(FORMAT);
    const p = parts(v);
    expect(p.iterations).toBe(4096);
    expect(p.salt.equals(SALT)).toBe(true);
    expect(p.storedKey).toHaveLength(32);
    expect(p.serverKey).toHaveLength(32);
  });

  it('is deterministic for a fixed salt', () => {
    expect(scramVerifier('secret', SALT)).toBe(scramVerifier('secret', SALT));
  });

  it('differs with the password, the salt and the iteration count', () => {
    const base = scramVerifier('secret', SALT);
    expect(scramVerifier('secret2', SALT)).not.toBe(base);
    expect(scramVerifier('secret', Buffer.from('fedcba9876543210'))).not.toBe(base);
    const v = scramVerifier('secret', SALT, 1000);
    expect(v.startsWith('SCRAM-SHA-256$1000:')).toBe(true);
    expect(v).not.toBe(base);
  });

  it('uses a random 16-byte salt by default', () => {
    const a = parts(scramVerifier('secret'));
    const b = parts(scramVerifier('secret'));
    expect(a.salt).toHaveLength(16);
    expect(a.salt.equals(b.salt)).toBe(false);
  });

  it('never contains the password', () => {
    expect(scramVerifier('plain-text-password', SALT)).not.toContain('plain-text-password');
  });

  it('matches a verifier from an independent computation (StoredKey = H(HMAC(SaltedPassword, "Client Key")))', () => {
    // PBKDF2 with 1 iteration is HMAC(password, salt || INT(1)); this avoids reusing pbkdf2Sync
    const salted = createHmac('sha256', 'pw').update(Buffer.concat([SALT, Buffer.from([0, 0, 0, 1])])).digest();
    const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64');
    const serverKey = createHmac('sha256', salted).update('Server Key').digest('base64');
    expect(scramVerifier('pw', SALT, 1)).toBe(`SCRAM-SHA-256$1:${SALT.toString('base64')}$${storedKey}:${serverKey}`);
  });

  it('agrees with the RFC 7677 example exchange (user "user", password "pencil")', () => {
    // RFC 7677 section 3: the server's signature and the client's proof of that exchange must
    // follow from the verifier's ServerKey and StoredKey.
    const salt = 'W22ZaJ0SNY7soEsUEjb6gQ==';
    const v = scramVerifier('pencil', Buffer.from(salt, 'base64'), 4096);
    const { storedKey, serverKey } = parts(v);
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=${salt},i=4096,c=biws,r=${nonce}`;
    const serverSignature = createHmac('sha256', serverKey).update(authMessage).digest('base64');
    expect(serverSignature).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  it('normalises the password with NFKC (SASLprep-like), so equivalent forms give one verifier', () => {
    // U+212B ANGSTROM SIGN normalises to U+00C5
    expect(scramVerifier('\u212B', SALT)).toBe(scramVerifier('\u00C5', SALT));
  });
});

describe('scramMatches', () => {
  const v = scramVerifier('right-password', SALT);

  it('is true for the right password', () => {
    expect(scramMatches(v, 'right-password')).toBe(true);
  });

  it('is true for a verifier made with another iteration count', () => {
    expect(scramMatches(scramVerifier('pw', SALT, 1234), 'pw')).toBe(true);
  });

  it('is false for a wrong password', () => {
    expect(scramMatches(v, 'wrong-password')).toBe(false);
    expect(scramMatches(v, '')).toBe(false);
  });

  it('is false for a tampered verifier', () => {
    const p = parts(v);
    const other = scramVerifier('x', SALT);
    expect(scramMatches(`SCRAM-SHA-256$4096:${SALT.toString('base64')}$${p.storedKey.toString('base64')}:${parts(other).serverKey.toString('base64')}`, 'right-password')).toBe(false);
  });

  it.each([null, undefined, '', 'garbage', 'md5abcdef0123456789', 'SCRAM-SHA-256$', 'SCRAM-SHA-1$4096:c2FsdA==$a:b'])(
    'is false for %j',
    (bad) => {
      expect(scramMatches(bad, 'right-password')).toBe(false);
    },
  );
});
