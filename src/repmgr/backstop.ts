// repmgrd's backstop fence, run by `pgha fence-backstop` (child_nodes_disconnect_command, as postgres,
// in the background: repmgrd waits for the command it runs). It watches until the node has a
// streaming standby again or is no longer writable, and stops PostgreSQL only when the rule
// (src/roles/fence.ts, backstopStep) says so.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { isAlive } from '../fsutil.js';
import { sleep } from '../wait.js';
import { backstopStep } from '../roles/fence.js';
import { readView, type Connect, type NodeAddress } from './validate.js';

export interface BackstopRun {
  node: string;
  /** Every node of the cluster, this one included. */
  nodes: NodeAddress[];
  connect: Connect;
  /** Stops this node's PostgreSQL (pg_ctl stop). */
  stop: () => Promise<void>;
  log: (line: string) => void;
  /** Between reads (ms). */
  everyMs?: number;
  /** Held while it runs: a second backstop of the same node leaves at once. */
  lockFile: string;
}

/** Take `file` for this process; false when a live process holds it. A lock left by a dead one is taken over. */
function takeLock(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch {
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (holder && isAlive(holder)) return false;
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
  if (!takeLock(o.lockFile)) {
    o.log('another fence backstop of this node is running: leaving it to that one');
    return 'busy';
  }
  try {
    let misses = 0;
    let said = '';
    for (;;) {
      const step = backstopStep(misses, o.node, await readView(o.nodes, o.connect));
      misses = step.misses;
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
