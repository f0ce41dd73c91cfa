// GET /metrics (Prometheus): the nodes, the queues, the steps' durations, backups and failovers.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QueueEvents, type Queue } from 'bullmq';
import type { ClusterConfig } from '../src/config/schema.js';
import { redisConnection } from '../src/redis.js';
import { DETECTED_FAILOVER_EVENT } from '../src/events.js';
import type { Overview } from './overview.js';

const ROLES = ['primary', 'standby', 'down', 'unknown'] as const;

/** Successful automatic failovers: promotions by repmgrd or by a node worker's failover detector. */
export const FAILOVER_EVENTS = ['repmgrd_failover_promote', DETECTED_FAILOVER_EVENT];

/** Seconds since the backup ended, or null (pure). */
export function backupAgeSeconds(endTime: string | null | undefined, now = Date.now()): number | null {
  if (!endTime) return null;
  const t = Date.parse(endTime);
  return Number.isNaN(t) ? null : Math.max(0, (now - t) / 1000);
}

export function createMetrics(config: ClusterConfig, overview: Overview, queues: Queue[]) {
  const registry = new Registry();
  registry.setDefaultLabels({ cluster: config.cluster });
  new Gauge({
    name: 'pgha_node_up',
    help: 'PostgreSQL answers on the node (1) or not (0)',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      for (const n of await overview.nodes.get()) this.set({ node: n.name }, n.role === 'primary' || n.role === 'standby' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pgha_automatic_failover_paused',
    help: 'repmgrd is paused on some node (1): no standby is promoted by itself; pgha status says by which flow and since when',
    registers: [registry],
    async collect() {
      this.set((await overview.status()).automaticFailover?.paused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pgha_maintenance_mode_since_seconds',
    help: 'Maintenance mode (pgha pause) is on since this Unix time, in seconds; absent when off. Who and why: pgha status',
    registers: [registry],
    async collect() {
      this.reset();
      const m = (await overview.status()).automaticFailover?.maintenance;
      if (m) this.set(Date.parse(m.since) / 1000);
    },
  });
  new Gauge({
    name: 'pgha_node_role',
    help: "The node's role: 1 on the label of its role, 0 on the others",
    labelNames: ['node', 'role'],
    registers: [registry],
    async collect() {
      for (const n of await overview.nodes.get()) for (const r of ROLES) this.set({ node: n.name, role: r }, n.role === r ? 1 : 0);
    },
  });
  new Gauge({
    name: 'pgha_node_lag_bytes',
    help: "Bytes of WAL a standby has not replayed yet, behind the primary's current position (0 on the primary)",
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const n of await overview.nodes.get()) if (n.lagBytes !== null) this.set({ node: n.name }, n.lagBytes);
    },
  });
  new Gauge({
    name: 'pgha_node_timeline',
    help: "The node's timeline",
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const n of await overview.nodes.get()) if (n.timeline !== null) this.set({ node: n.name }, n.timeline);
    },
  });
  new Gauge({
    name: 'pgha_queue_jobs',
    help: 'Jobs in each queue by state (waiting, active, delayed, failed, prioritized, waiting-children)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const q of queues) {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized', 'waiting-children');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      }
    },
  });
  new Gauge({
    name: 'pgha_last_backup_age_seconds',
    help: 'Seconds since the newest DONE barman backup ended (absent: none)',
    registers: [registry],
    async collect() {
      this.reset();
      const age = backupAgeSeconds((await overview.barman.get()).lastBackup?.endTime);
      if (age !== null) this.set(age);
    },
  });
  new Counter({
    name: 'pgha_failovers_total',
    help: 'Automatic failovers (successful promotions by repmgrd or by a node worker\'s failover detector) in the recorded events',
    registers: [registry],
    async collect() {
      const n = (await overview.events.get()).filter((e) => FAILOVER_EVENTS.includes(e.event) && e.success).length;
      this.reset();
      this.inc(n);
    },
  });
  const durations = new Histogram({
    name: 'pgha_step_duration_seconds',
    help: 'How long each completed step ran (from start to completion of its last attempt), by step name',
    labelNames: ['step'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [registry],
  });
  // steps complete on the workers: their completion events arrive here
  const eventConnections = queues.map(() => redisConnection(config.redis));
  const listeners = queues.map((q, i) => {
    const events = new QueueEvents(q.name, { connection: eventConnections[i] });
    events.on('completed', ({ jobId }) => {
      void q.getJob(jobId).then((job) => {
        if (job?.processedOn && job.finishedOn) durations.observe({ step: job.name }, (job.finishedOn - job.processedOn) / 1000);
      }).catch(() => {});
    });
    return events;
  });
  return {
    registry,
    async close() {
      await Promise.all(listeners.map((l) => l.close()));
      for (const c of eventConnections) c.disconnect();
    },
  };
}
