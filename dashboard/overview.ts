// What the cluster page and /metrics show, read live and shared between requests: the nodes at most
// 1 s old, barman's part at most 15 s old (it asks the barman worker, which runs barman's CLI).
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClusterConfig } from '../src/config/schema.js';
import { readBackups, readFailoverState, readNodes, within, type BarmanStatus, type ClusterStatus, type NodeStatus } from '../src/status.js';
import { recentFlowRecords, type FlowRecord } from '../src/flows/registry.js';
import { readStepStates, summarizeFlow, type FlowSummary } from '../src/flows/run.js';

export type { FlowSummary };
import { readEvents, type ClusterEvent } from '../src/events.js';
import { readHistory, type ClusterHistory } from '../src/history.js';

/** A value refreshed at most every `maxAgeMs`, one refresh at a time. */
export class Cached<T> {
  private value?: T;
  private at = 0;
  private pending?: Promise<T>;
  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
  ) {}
  async get(): Promise<T> {
    if (this.value !== undefined && Date.now() - this.at < this.maxAgeMs) return this.value;
    this.pending ??= this.load()
      .then((v) => {
        this.value = v;
        this.at = Date.now();
        return v;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/** repmgr's routine events (daemon starts, reloads, reconnects): left off the page's event list. */
const ROUTINE_EVENTS = /^(repmgrd_(start|shutdown|reload|upstream_reconnect|local_reconnect|standby_reconnect)|child_node_new_connect|child_node_reconnect)$/;

/** Flows that are cluster events in their own right. */
const EVENT_SCENARIOS = new Set(['backup', 'restore', 'switchover', 'failover', 'after-promotion', 'restart']);

/** The page's event list: repmgr's significant events and the operations' flows, newest first (pure). */
export function pageEvents(events: ClusterEvent[], flows: FlowSummary[], limit: number): (ClusterEvent & { flow?: string })[] {
  const fromFlows = flows
    .filter((f) => EVENT_SCENARIOS.has(f.scenario) && (f.state === 'completed' || f.state === 'failed'))
    .map((f) => ({ at: f.createdAt, node: '-', event: `${f.scenario} flow`, success: f.state === 'completed', followUp: f.flowId, flow: f.flowId }));
  return [...events.filter((e) => !ROUTINE_EVENTS.test(e.event)), ...fromFlows].sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}

export class Overview {
  readonly nodes: Cached<NodeStatus[]>;
  readonly barman: Cached<BarmanStatus>;
  readonly events: Cached<ClusterEvent[]>;
  /** Timelines change only at a promotion: read every 5 s at most (each read probes every node). */
  readonly history: Cached<ClusterHistory>;
  constructor(
    private readonly config: ClusterConfig,
    private readonly connection: Redis,
    private readonly queue: (name: string) => Queue,
  ) {
    this.nodes = new Cached(() => readNodes(config), 1000);
    this.barman = new Cached(
      () => within(readBackups(config, 10_000), 12_000, () => ({ backups: [], error: 'no answer from Redis or the barman worker within 10 s' })),
      15_000,
    );
    this.events = new Cached(() => readEvents(config, 200), 1000);
    this.history = new Cached(() => readHistory(config), 5000);
  }

  async status(): Promise<ClusterStatus> {
    const [nodes, barman] = await Promise.all([this.nodes.get(), this.barman.get()]);
    return { cluster: this.config.cluster, nodes, barman, automaticFailover: await readFailoverState(this.config, this.connection, this.queue, nodes, 3000) };
  }

  async flow(record: FlowRecord): Promise<FlowSummary> {
    return summarizeFlow(record, await readStepStates(this.queue, record.flowId, record.steps));
  }

  async recentFlows(limit: number): Promise<FlowSummary[]> {
    const records = await recentFlowRecords(this.connection, this.config.cluster, limit);
    return Promise.all(records.map((r) => this.flow(r)));
  }
}

/** One sample of every node's replication lag (bytes; null: not a standby that answered). */
export interface LagSample {
  at: number;
  lag: Record<string, number | null>;
}

/** The page's lag chart: a sample of each node's lag every few seconds, the last `spanMs` kept (pure but for the clock it is given). */
export class LagHistory {
  private readonly samples: LagSample[] = [];
  constructor(readonly spanMs = 15 * 60_000) {}
  add(at: number, nodes: { name: string; role: string; lagBytes: number | null }[]): void {
    this.samples.push({ at, lag: Object.fromEntries(nodes.map((n) => [n.name, n.role === 'standby' ? n.lagBytes : null])) });
    while (this.samples.length && this.samples[0]!.at < at - this.spanMs) this.samples.shift();
  }
  get(): LagSample[] {
    return [...this.samples];
  }
}
