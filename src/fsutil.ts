// File helpers shared by every step: whole-file atomic writes, owned folders, pid files.
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { lookupUser } from './exec/runner.js';

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** As root, give `path` to the OS user `owner` (nothing when not root or no owner). */
export function chownTo(path: string, owner?: string) {
  if (!owner || !isRoot()) return;
  const u = lookupUser(owner);
  chownSync(path, u.uid, u.gid);
}

/** mkdir -p, then (as root) give the leaf folder to `owner`. */
export function ensureDir(path: string, opts: { owner?: string; mode?: number } = {}): void {
  mkdirSync(path, { recursive: true });
  if (opts.mode !== undefined) chmodSync(path, opts.mode);
  chownTo(path, opts.owner);
}

/**
 * Render a file whole and replace it atomically (write a temp file beside it, rename).
 * Returns true when the content changed, so a step can skip a restart that would change nothing.
 */
export function writeFileAtomic(path: string, content: string, opts: { owner?: string; mode?: number } = {}): boolean {
  const before = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (before === content) {
    chownTo(path, opts.owner);
    return false;
  }
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.pgha-tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: opts.mode ?? 0o644 });
  if (opts.mode !== undefined) chmodSync(tmp, opts.mode);
  chownTo(tmp, opts.owner);
  renameSync(tmp, path);
  return true;
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a zombie is not alive for our purposes
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
