// Processes of a local cluster: started detached with a pid file, stopped by pid, never by name.
import { spawn } from 'node:child_process';
import { pollUntil } from '../wait.js';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, readPidFile } from '../fsutil.js';

/** Every process a local cluster starts carries this variable, so `down` can find strays by it. */
export const LOCAL_MARKER = 'PGHA_LOCAL_DIR';

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  pidFile: string;
  logFile: string;
  markerDir: string;
  env?: Record<string, string>;
}

export function runningPid(pidFile: string): number | undefined {
  const pid = readPidFile(pidFile);
  return isAlive(pid) ? pid : undefined;
}

/** Start a detached process unless its pid file names a live one. Returns its pid and whether it was started. */
export function startDaemon(spec: DaemonSpec): { pid: number; started: boolean } {
  const existing = runningPid(spec.pidFile);
  if (existing) return { pid: existing, started: false };
  mkdirSync(join(spec.pidFile, '..'), { recursive: true });
  mkdirSync(join(spec.logFile, '..'), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...spec.env, [LOCAL_MARKER]: spec.markerDir },
    });
    if (!child.pid) throw new Error(`could not start ${spec.name} (${spec.command})`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return { pid: child.pid, started: true };
  } finally {
    closeSync(fd);
  }
}


/** SIGTERM (or the given signal), wait up to `graceMs`, then SIGKILL. True when the process is gone. */
export async function stopPid(pid: number | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try {
    process.kill(pid!, signal);
  } catch {
    return !isAlive(pid);
  }
  const gone = (timeoutMs: number) => pollUntil(`pid ${pid} ended`, () => !isAlive(pid), { timeoutMs, everyMs: 100 }).then(() => true, () => false);
  if (await gone(graceMs)) return true;
  try {
    process.kill(pid!, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  return gone(5000);
}

/** Pids of live processes whose environment names this local folder (workers, repmgrd, barman, pg_receivewal). */
export function markedPids(markerDir: string): number[] {
  const needle = `${LOCAL_MARKER}=${markerDir}\0`;
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (env.includes(needle) && isAlive(pid)) out.push(pid);
    } catch {
      /* exited or not ours to read */
    }
  }
  return out;
}

export function removeFile(path: string) {
  if (existsSync(path)) rmSync(path, { force: true });
}
