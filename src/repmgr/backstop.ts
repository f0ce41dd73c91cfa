// repmgrd's backstop fence, run by `pgha fence-backstop` (child_nodes_disconnect_command, as postgres,
// in the background: repmgrd waits for the command it runs). It watches until the node has a
// streaming standby again or is no longer writable, and stops PostgreSQL only when the rule
// (src/roles/fence.ts, backstopStep) says so.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { isAlive } from '../fsutil.js';
import { sleep } from '../wait.js';
import { backstopStep, type BackstopState } from '../roles/fence.js';
import { readView, type Connect, type NodeAddress } from './validate.js';

export interface BackstopRun {
  node: string;
  /** Every node of the cluster, this one included. */
  nodes: NodeAddress[];
  connect: Connect;
  /** Stops this node's PostgreSQL (pg_ctl stop -m immediate, as the watchdog's fence). */
  stop: () => Promise<void>;
  /** Its postmaster is alive (read from its data directory: a slow probe answer proves nothing). */
  running: () => boolean;
  log: (line: string) => void;
  /** Between reads (ms). */
  everyMs?: number;
  /** Held while it runs: a second backstop of the same node leaves at once. */
  lockFile: string;
}

/** The process `pid` is a fence backstop of `node` (its command line says so): a reused pid is not. */
function isBackstopOf(pid: number, node: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes('fence-backstop') && args[args.indexOf('--node') + 1] === node;
  } catch {
    return false; // gone meanwhile
  }
}

/** Take `file` for this process; false when a live backstop of `node` holds it. A lock left by a dead one, or by a pid since reused, is taken over. */
function takeLock(file: string, node: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch {
      let holder = 0;
      try {
        holder = Number(readFileSync(file, 'utf8').trim());
      } catch {
        continue; // removed between the open and the read: try again
      }
      if (holder && isBackstopOf(holder, node)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

/**
 * Watch and, when the rule says so, fence. Resolves with what happened: 'fenced' (PostgreSQL stopped),
 * 'done' (a standby streams again, or the node is no longer a writable primary), or 'busy' (another
 * backstop of this node runs). Throws only when the stop itself fails.
 */
export async function runBackstop(o: BackstopRun): Promise<'fenced' | 'done' | 'busy'> {
  if (!takeLock(o.lockFile, o.node)) {
    o.log('another fence backstop of this node is running: leaving it to that one');
    return 'busy';
  }
  try {
    let state: BackstopState = { misses: 0, childReads: 0 };
    let said = '';
    for (;;) {
      const step = backstopStep(state, o.node, await readView(o.nodes, o.connect), o.running());
      state = step.state;
      const d = step.decision;
      // each reason once while it holds (a watch can last until the keeper has brought a standby back)
      if (d.reason !== said) o.log(`${d.action}: ${d.reason}`);
      said = d.reason;
      if (d.action === 'done') return 'done';
      if (d.action === 'fence') {
        o.log(`FENCING ${o.node}: stopping PostgreSQL`);
        await o.stop();
        o.log(`fenced ${o.node}`);
        return 'fenced';
      }
      await sleep(o.everyMs ?? 1000);
    }
  } finally {
    rmSync(o.lockFile, { force: true });
  }
}
