// The dashboard's one secret (also asked by health checks when health.open is false): a token, sent as
// `Authorization: Bearer <token>` by scripts or as HTTP basic auth's password (any user name) by a browser.
import { timingSafeEqual, createHash, createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ClusterConfig } from './config/schema.js';

/** The configured token: dashboard.token, else the first line of dashboard.tokenFile; an error that says how to set one. */
export function dashboardToken(config: ClusterConfig): string {
  const d = config.dashboard;
  if (d.token) return d.token;
  if (d.tokenFile) {
    let text: string;
    try {
      text = readFileSync(d.tokenFile, 'utf8');
    } catch (err) {
      throw new Error(`dashboard.tokenFile: cannot read ${d.tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (statSync(d.tokenFile).mode & 0o077) throw new Error(`dashboard.tokenFile: ${d.tokenFile} is readable by others; chmod 600 ${d.tokenFile}`);
    const token = text.split('\n')[0].trim();
    if (token.length < 16) throw new Error(`dashboard.tokenFile: the token in ${d.tokenFile} must be at least 16 characters (openssl rand -hex 24 > ${d.tokenFile})`);
    return token;
  }
  throw new Error('dashboard.token: not set; the dashboard never runs without authentication. Set PGHA_DASHBOARD_TOKEN (or dashboard.token), or dashboard.tokenFile to a file holding one (openssl rand -hex 24)');
}

// Comparing digests: equal length, constant time, whatever the length of what was sent.
const digest = (s: string) => createHash('sha256').update(s).digest();

/** The token an Authorization header carries, if any (pure). */
export function presentedToken(header: string | undefined): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1].trim();
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

/** Does this Authorization header carry the token? (pure) */
export function authorized(header: string | undefined, token: string): boolean {
  const given = presentedToken(header);
  return given !== null && timingSafeEqual(digest(given), digest(token));
}

/** The browser session's cookie: set by the login form (POST /login) once it was given the token. */
export const SESSION_COOKIE = 'pgha_session';
/** How long a login lasts. */
export const SESSION_TTL_MS = 12 * 3_600_000;

const mac = (token: string, expiresAt: number) => createHmac('sha256', token).update(`pgha-session:${expiresAt}`).digest('base64url');

/**
 * A session cookie's value (pure): "<expiresAt ms>.<HMAC-SHA256 keyed by the token>". Nothing is
 * stored server-side: any dashboard with the same token accepts it, and changing the token ends every
 * session. The token itself never reaches the browser's storage.
 */
export function sessionValue(token: string, expiresAt: number): string {
  return `${expiresAt}.${mac(token, expiresAt)}`;
}

/** Is this cookie value a session of `token` not yet expired at `now`? (pure, constant-time on the MAC) */
export function validSession(value: string | null, token: string, now: number): boolean {
  const m = value ? /^(\d{10,16})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
  if (!m) return false;
  const expiresAt = Number(m[1]);
  if (expiresAt <= now) return false;
  return timingSafeEqual(digest(m[2]!), digest(mac(token, expiresAt)));
}

/** A cookie's value from a Cookie header (pure); null when absent. */
export function cookieOf(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null; // malformed: no session, not an error
      }
    }
  }
  return null;
}
