// PghaClient: pgha for scripts (`import { PghaClient } from 'pgha'`). The same checks, refusals and
// flows as the CLI and the REST API, over either transport: Redis and the nodes directly (a host
// with the cluster's pgha.yaml: the CLI itself runs on this), or the dashboard's REST API by URL and
// token (anywhere). Refusals are typed: ValidationError (the request is wrong: fix a field) and
// RefusedError (the cluster's state does not allow it now: a retry later may pass).
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ClusterConfig } from './config/schema.js';
import { startScenario, SCENARIOS, type FlowRequest, type Problem, type Scenario } from './scenarios.js';
import { readStepStates, summarizeFlow, type FlowSummary } from './flows/run.js';
import { readFlowRecord, recentFlowRecords } from './flows/registry.js';
import { readStatus, type ClusterStatus } from './status.js';
import { readEvents, type ClusterEvent } from './events.js';
import { readHistory, type ClusterHistory } from './history.js';
import { redisConnection } from './redis.js';
import { pollUntil, WaitTimeout } from './wait.js';

export { SCENARIOS };
export type { Scenario, Problem, FlowSummary, ClusterStatus, ClusterEvent, ClusterHistory };

/** Any error of the client that carries an HTTP-like status (400, 401, 403, 404, 409, 503). */
export class PghaError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: Problem[] = [],
  ) {
    super(message);
    this.name = 'PghaError';
  }
}

/** 400: the request is wrong; `details` name each field (params.targetTime, node, postgres.parameters.work_mem…). No retry helps until it is fixed. */
export class ValidationError extends PghaError {
  constructor(message: string, details: Problem[]) {
    super(message, 400, details);
    this.name = 'ValidationError';
  }
}

/** 409: the request is right but the cluster's state refuses it now (a node down, the primary still writable…); `reason` says why. A retry may pass once that changes. */
export class RefusedError extends PghaError {
  constructor(
    readonly reason: string,
    details: Problem[],
  ) {
    super(reason, 409, details);
    this.name = 'RefusedError';
  }
}

/** A flow one of whose steps failed for good: `failed` is that step (its name, job id, reason). Retry it from the dashboard, or start the flow again. */
export class FlowFailedError extends Error {
  constructor(readonly flow: FlowSummary) {
    const failed = flow.steps.find((s) => s.state === 'failed' || s.state === 'missing');
    super(`flow ${flow.flowId} failed at step ${failed?.step ?? flow.currentStep} (job ${failed?.jobId ?? '?'}): ${failed?.failedReason ?? 'no reason recorded'}`);
    this.name = 'FlowFailedError';
  }
  get failed() {
    return this.flow.steps.find((s) => s.state === 'failed' || s.state === 'missing');
  }
}

const refusal = (status: number, error: string, details: Problem[]) =>
  status === 400 ? new ValidationError(error, details) : status === 409 ? new RefusedError(error, details) : new PghaError(error, status, details);

/** What a transport does: one call per question. */
interface Transport {
  status(): Promise<ClusterStatus>;
  start(request: FlowRequest): Promise<{ flowId: string; scenario: Scenario; summary: string }>;
  flow(id: string): Promise<FlowSummary | null>;
  flows(limit: number): Promise<FlowSummary[]>;
  events(): Promise<ClusterEvent[]>;
  history(): Promise<ClusterHistory>;
  close(): Promise<void>;
}

/** Redis and the nodes directly, with the cluster's config: what the CLI and the dashboard's API handlers run. */
class Direct implements Transport {
  private connection?: Redis;
  private readonly queues = new Map<string, Queue>();
  constructor(private readonly config: ClusterConfig) {}
  private redis(): Redis {
    if (!this.connection) {
      this.connection = redisConnection(this.config.redis);
      this.connection.on('error', () => {});
    }
    return this.connection;
  }
  private queue = (name: string) => this.queues.get(name) ?? this.queues.set(name, new Queue(name, { connection: this.redis() })).get(name)!;
  status() {
    return readStatus(this.config);
  }
  async start(request: FlowRequest) {
    const planned = await startScenario(this.config, this.redis(), request);
    if (!planned.ok) throw refusal(planned.status, planned.error, planned.details);
    return { flowId: planned.flowId, scenario: planned.scenario, summary: planned.summary };
  }
  async flow(id: string) {
    const record = await readFlowRecord(this.redis(), this.config.cluster, id);
    return record ? summarizeFlow(record, await readStepStates(this.queue, record.flowId, record.steps)) : null;
  }
  async flows(limit: number) {
    const records = await recentFlowRecords(this.redis(), this.config.cluster, limit);
    return Promise.all(records.map(async (r) => summarizeFlow(r, await readStepStates(this.queue, r.flowId, r.steps))));
  }
  events() {
    return readEvents(this.config);
  }
  history() {
    return readHistory(this.config);
  }
  async close() {
    for (const q of this.queues.values()) await q.close();
    this.connection?.disconnect();
  }
}

/** The dashboard's REST API: `url` (http://host:8080) and its token (dashboard.token). */
class Http implements Transport {
  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {}
  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.url.endsWith('/') ? this.url : `${this.url}/`), {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const json = (await res.json().catch(() => ({}))) as { error?: string; details?: Problem[] };
    if (!res.ok) throw refusal(res.status, json.error ?? `HTTP ${res.status} from ${method} ${path}`, json.details ?? []);
    return json as T;
  }
  status() {
    return this.call<ClusterStatus>('GET', 'api/status');
  }
  start(request: FlowRequest) {
    return this.call<{ flowId: string; scenario: Scenario; summary: string }>('POST', 'api/flows', request);
  }
  async flow(id: string) {
    try {
      return await this.call<FlowSummary>('GET', `api/flows/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof PghaError && err.status === 404) return null;
      throw err;
    }
  }
  flows(limit: number) {
    return this.call<FlowSummary[]>('GET', `api/flows?limit=${limit}`);
  }
  events() {
    return this.call<ClusterEvent[]>('GET', 'api/events');
  }
  history() {
    return this.call<ClusterHistory>('GET', 'api/history');
  }
  async close() {}
}

export interface WaitFlowOptions {
  /** Called with the flow each time it moved (a step started, progressed, completed or failed). */
  onProgress?: (flow: FlowSummary) => void;
  /** Stops the wait (the flow goes on in its workers). */
  signal?: AbortSignal;
  /** Give up after this long (ms; default 15 min): throws WaitTimeout, the flow goes on. */
  timeoutMs?: number;
  /** Between reads (ms; default 300). */
  pollMs?: number;
}

export class PghaClient {
  private constructor(private readonly t: Transport) {}

  /**
   * A client over Redis and the nodes directly, with the cluster's config (loadConfig), or over the
   * dashboard's REST API by `url` and `token` (each request at most `timeoutMs`, default 60 s).
   * Close it when done.
   */
  static connect(o: { config: ClusterConfig } | { url: string; token: string; timeoutMs?: number }): PghaClient {
    return new PghaClient('config' in o ? new Direct(o.config) : new Http(o.url, o.token, o.timeoutMs ?? 60_000));
  }

  /** The cluster now: each node's role, upstream, timeline, lag, pending restarts; barman's backups; whether automatic failover is paused and by whom. */
  status(): Promise<ClusterStatus> {
    return this.t.status();
  }

  /**
   * Start a flow (the CLI's operations: restart, switchover, failover, backup, restore, pause, resume,
   * reinit, apply-config, first-start) and return its id at once. Checked first, as the CLI and the
   * API check it: throws ValidationError (400, the fields named) or RefusedError (409, why now).
   */
  async startFlow(scenario: Scenario, o: { node?: string; params?: Record<string, unknown> } = {}): Promise<string> {
    return (await this.startFlowWithSummary(scenario, o)).flowId;
  }

  /** startFlow, with the one-line summary of what the flow does. */
  startFlowWithSummary(scenario: Scenario, o: { node?: string; params?: Record<string, unknown> } = {}): Promise<{ flowId: string; scenario: Scenario; summary: string }> {
    return this.t.start({ scenario, ...(o.node !== undefined ? { node: o.node } : {}), ...(o.params !== undefined ? { params: o.params } : {}) });
  }

  /**
   * Wait for flow `id` to complete; returns it with every step's state. Throws FlowFailedError when a
   * step failed for good, PghaError(404) for an unknown id, WaitTimeout after `timeoutMs`, and the
   * signal's reason when aborted.
   */
  async waitFlow(id: string, o: WaitFlowOptions = {}): Promise<FlowSummary> {
    let last = '';
    const flow = await pollUntil(
      `flow ${id} to end`,
      async () => {
        const f = await this.t.flow(id);
        if (!f) throw new PghaError(`no flow with id ${id}`, 404);
        const key = JSON.stringify(f.steps.map((s) => [s.state, s.progress, s.attemptsMade]));
        if (key !== last) o.onProgress?.(f);
        last = key;
        return f.state === 'completed' || f.state === 'failed' ? f : undefined;
      },
      { timeoutMs: o.timeoutMs ?? 15 * 60_000, everyMs: o.pollMs ?? 300, signal: o.signal },
    );
    if (flow.state === 'failed') throw new FlowFailedError(flow);
    return flow;
  }

  /** The newest flows (at most `limit`, newest first), whoever started them. */
  flows(limit = 50): Promise<FlowSummary[]> {
    return this.t.flows(limit);
  }

  /** repmgr's events and pgha's fences, newest first. */
  events(): Promise<ClusterEvent[]> {
    return this.t.events();
  }

  /** Every timeline: when, which node was promoted, why, and where it forked. */
  history(): Promise<ClusterHistory> {
    return this.t.history();
  }

  close(): Promise<void> {
    return this.t.close();
  }
}

export { WaitTimeout };
