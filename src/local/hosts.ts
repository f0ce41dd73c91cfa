// Local mode's host verbs: a node's host dies (`local kill`) or boots (`local start`).
import { shellQuote } from '../cli-entry.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findNode, nodePaths } from '../config/paths.js';
import { watchFlows } from '../flows/run.js';
import { postmasterStatus } from '../postgres/actions.js';
import { redisConnection } from '../redis.js';
import { isAlive, readPidFile } from '../fsutil.js';
import { repmgrdPidOf } from '../repmgr/actions.js';
import { bootFlow, bootFlowId, loadLocal, startLocalProcesses } from './cluster.js';
import { pollUntil } from '../wait.js';
import pidtree from 'pidtree';

/** The processes of a node's host in local mode: its postmaster, repmgrd and node worker (by pid files). */
function hostProcesses(dir: string, node: string): [string, number | undefined][] {
  const { l, config } = loadLocal(dir);
  const p = nodePaths(config, findNode(config, node));
  return [
    ['postgres', postmasterStatus(p.dataDir)?.pid],
    ['repmgrd', repmgrdPidOf(config, findNode(config, node))],
    ['node worker', readPidFile(join(l.pidDir, `${node}-worker.pid`))],
  ];
}

/**
 * The host freezes (`SIGSTOP`) or resumes (`SIGCONT`): every process of it at once, PostgreSQL's
 * backends and whatever each one runs included, as a VM paused by its hypervisor or a long GC-like
 * stall would. Returns how many processes got the signal.
 */
export async function localFreeze(dir: string, node: string, signal: 'SIGSTOP' | 'SIGCONT', say: (s: string) => void = console.log): Promise<number> {
  const roots = hostProcesses(dir, node).filter((e): e is [string, number] => !!e[1] && isAlive(e[1]));
  const all = new Set<number>();
  for (const [, pid] of roots) {
    all.add(pid);
    for (const child of await pidtree(pid).catch(() => [] as number[])) all.add(child);
  }
  // every pid collected first, then signalled in one pass
  for (const pid of all) {
    try {
      process.kill(pid, signal);
    } catch {
      /* ended meanwhile */
    }
  }
  say(`${signal === 'SIGSTOP' ? 'froze' : 'resumed'} ${node}: ${roots.map(([w, p]) => `${w} ${p}`).join(', ')} and ${all.size - roots.length} child processes`);
  return all.size;
}

/** kill -9 of the node's postmaster, repmgrd and node worker, all at once, by pid. */
export async function localKill(dir: string, node: string, say: (s: string) => void = console.log): Promise<number> {
  const pids = hostProcesses(dir, node);
  for (const [what, pid] of pids) {
    if (pid && isAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      say(`killed ${what} of ${node} (pid ${pid})`);
    }
  }
  for (const [, pid] of pids) if (pid) await pollUntil(`pid ${pid} ended`, () => !isAlive(pid), { timeoutMs: 2500, everyMs: 50 }).catch(() => {});
  return 0;
}

/** Start the node's worker; it runs the first start or the restart decision. Exit 0 once the node runs in its role. */
export async function localStart(dir: string, node: string, say: (s: string) => void = console.log, timeoutMs = 300_000): Promise<number> {
  const { l, config } = loadLocal(dir);
  if (!config.nodes.some((n) => n.name === node)) {
    // barman's worker, the control worker and the dashboard are no hosts that boot: local up starts whichever is not running
    say(`${node} is not a node of this cluster (nodes: ${config.nodes.map((n) => n.name).join(', ')}); pgha local up --dir ${shellQuote(dir)} starts the barman worker, the control worker and the dashboard if they are not running`);
    return 1;
  }
  const since = Date.now();
  const started = startLocalProcesses(l, config, say, [`${node}-worker`]);
  let flowId: string;
  if (!started.length) {
    // its worker runs already (local up restarted it, or it never stopped): follow the flow it booted with, no wait for a new one
    say(`${node}'s worker already runs (pid ${readPidFile(join(l.pidDir, `${node}-worker.pid`))})`);
    const file = nodePaths(config, node).bootFlowFile;
    flowId = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  } else {
    try {
      flowId = await bootFlowId(config, node, since);
    } catch (err) {
      say(`${(err as Error).message}; see ${join(l.logDir, `${node}-worker.log`)}`);
      return 1;
    }
  }
  if (!flowId) {
    say(`${node} already runs`);
    return 0;
  }
  const connection = redisConnection(config.redis);
  try {
    const { flow } = await bootFlow(connection, config, node, flowId);
    say(`flow ${flowId}`);
    // the first refusal is the answer for whoever waits: the flow itself keeps retrying
    const result = await watchFlows(connection, [flow], { timeoutMs, failFast: true, onStep: (s) => say(`  ✓ ${s.step}`) });
    if (!result.ok) {
      say(`${node} did not start: ${result.failed!.failedReason}`);
      return 1;
    }
    const decision = result.states.find((s) => s.step === 'decide-and-start');
    say(`${node} runs${decision?.returnValue ? `: ${(decision.returnValue as { action: string }).action}` : ''}`);
    return 0;
  } finally {
    connection.disconnect();
  }
}
