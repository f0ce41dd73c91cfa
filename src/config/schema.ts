// The cluster file (pgha.yaml): every parameter of the seed's table with the seed's default.
import { z } from 'zod';
import { CronExpressionParser } from 'cron-parser';
import { fenceBudgetProblem, type FenceTimings, type RepmgrTimings } from '../roles/fence.js';
import { ownedParameterProblem, type ParameterValue } from '../postgres/parameters.js';
import { DEFAULT_REDIS_URL, port, RedisSchema } from './redis-schema.js';

/** Names end up in file names, queue names and command lines: keep them boring. */
export const SAFE_NAME = /^[A-Za-z0-9_-]+$/;
const safeName = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(SAFE_NAME, 'only letters, digits, "-" and "_" are allowed');

const absPath = z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path');
const password = z.string().min(1, 'must not be empty');

/** The seed's default passwords: allowed in local mode only (with a warning). */
export const SEED_PASSWORDS: Record<string, string> = {
  'postgres.rootPassword': 'mysecretpassword',
  'repmgr.password': 'iamrepmgr',
  'repmgr.streamingPassword': 'iamstreamingrepmgr',
  'barman.password': 'iambarman',
  'barman.streamingPassword': 'iamstreamingbarman',
};

/** Paths of every secret in the config: masked on output, redacted from logs. */
export const SECRET_PATHS = [...Object.keys(SEED_PASSWORDS), 'dashboard.token', 'redis.password', 'redis.sentinelPassword'];

export const RETENTION_POLICY = /^(REDUNDANCY [1-9][0-9]*|RECOVERY WINDOW OF [1-9][0-9]* (DAYS|WEEKS|MONTHS))$/;

export const NodeSchema = z.strictObject({
  name: safeName,
  host: z.string().min(1, 'must not be empty'),
  master: z.boolean().default(false),
  priority: z.number().int().min(0).max(1000).default(100),
});

export const PostgresSchema = z.strictObject({
  port: port.default(5432),
  technicalPort: port.default(5434),
  /** Each node's data directory is `<dataDir>/<node name>`. */
  dataDir: absPath.default('/var/lib/postgresql'),
  rootPassword: password.default(SEED_PASSWORDS['postgres.rootPassword']),
  binDir: absPath.default('/usr/lib/postgresql/15/bin'),
  /** Each node's unix socket directory is `<socketDir>/<node name>`. */
  socketDir: absPath.default('/var/run/postgresql'),
  /** Client networks allowed in pg_hba besides the cluster's own hosts (CIDR). */
  allowedNetworks: z.array(z.string().min(1)).default([]),
  maxWalSenders: z.number().int().min(4).default(10),
  maxReplicationSlots: z.number().int().min(4).default(10),
  /**
   * PostgreSQL parameters (shared_buffers: 256MB, work_mem: 16MB, …), written to each node's
   * pgha-parameters.conf by `pgha config apply` (and at a first start). Checked against PostgreSQL's
   * pg_settings by `config check` and `config apply`; parameters pgha owns are refused here.
   */
  parameters: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'a parameter name (letters, digits, _; a custom one as prefix.name)'), z.union([z.string(), z.number(), z.boolean()]))
    .default({}),
});

export const RepmgrSchema = z.strictObject({
  configDir: absPath.default('/etc/repmgr.d/'),
  password: password.default(SEED_PASSWORDS['repmgr.password']),
  streamingPassword: password.default(SEED_PASSWORDS['repmgr.streamingPassword']),
  /** automatic: repmgrd promotes a standby when the primary is gone; manual: only `pgha failover`. */
  failover: z.enum(['automatic', 'manual']).default('automatic'),
  /**
   * Defaults tuned to fail over in about 3 s (repmgr's own: 2 s, 6 × 10 s). Three reconnects 1 s
   * apart: under primary_visibility_consensus an election is cancelled while a sibling saw the primary
   * less than 2 monitor intervals ago, and repmgr 5.3 does not retry a cancelled election; with two
   * reconnects that happened in about half the kills.
   */
  monitorIntervalSecs: z.number().int().min(1).default(1),
  reconnectAttempts: z.number().int().min(1).default(3),
  reconnectIntervalSecs: z.number().int().min(1).default(1),
  /**
   * The node workers detect a lost primary themselves (they probe every node every
   * fencing.checkEveryMs) and promote under the promotion rule, seconds before repmgrd would: a
   * refusing primary after one check, a silent one once it has surely fenced itself. repmgrd stays
   * the backstop. Needs failover automatic and fencing enabled; false leaves failover to repmgrd.
   */
  fastFailover: z.boolean().default(true),
  /**
   * repmgrd's own fence, the backstop for when the node worker (and its watchdog, see fencing) is
   * down: a primary that has lost every standby for this long stops itself. 0 turns it off.
   */
  fenceAfterSecs: z.number().int().min(0).default(30),
});

/**
 * The node worker's fencing watchdog: a writable primary that has heard from no majority of the
 * cluster for afterMs stops PostgreSQL (pg_ctl -m immediate), before a standby can be promoted
 * (checked against repmgr's timings); it rejoins by itself once it sees a majority again.
 */
export const FencingSchema = z.strictObject({
  enabled: z.boolean().default(true),
  afterMs: z.number().int().min(200).default(1000),
  checkEveryMs: z.number().int().min(50).default(250),
});

/**
 * quorum (default): the primary acknowledges a commit only once a majority of the cluster (itself
 * included) has it on disk (synchronous_standby_names = 'ANY k (…)'), so no failover loses it; a
 * commit waits while too few standbys stream. off: asynchronous, a failover can lose the last
 * commits the primary acknowledged.
 */
export const ReplicationSchema = z.strictObject({
  synchronous: z.enum(['quorum', 'off'], { error: 'must be "quorum" (no acknowledged commit lost on failover) or "off" (asynchronous)' }).default('quorum'),
});

export const BarmanSchema = z.strictObject({
  /** Address of the barman host (where the barman worker runs). */
  host: z.string().min(1).default('127.0.0.1'),
  password: password.default(SEED_PASSWORDS['barman.password']),
  streamingPassword: password.default(SEED_PASSWORDS['barman.streamingPassword']),
  backupDir: absPath.default('/home/barman/data'),
  retentionPolicy: z
    .string()
    .regex(RETENTION_POLICY, 'must be "RECOVERY WINDOW OF <n> DAYS|WEEKS|MONTHS" or "REDUNDANCY <n>"')
    .default('RECOVERY WINDOW OF 5 DAYS'),
  configDir: absPath.default('/etc/barman.d/'),
  /** `barman cron` schedule, milliseconds. */
  cronEveryMs: z.number().int().min(1000).default(60_000),
  /** Full backups: a cron pattern in UTC (default daily at 00:00)… */
  // checked by the parser BullMQ's job schedulers use, so what passes here is what runs
  backupCron: z
    .string()
    .superRefine((v, ctx) => {
      try {
        CronExpressionParser.parse(v, { tz: 'UTC' });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a cron pattern (${(err as Error).message}); e.g. "0 0 * * *" is daily at 00:00 UTC` });
      }
    })
    .default('0 0 * * *'),
  /** …or, when set, every this many milliseconds instead (tests, busy clusters). */
  backupEveryMs: z.number().int().min(5000).optional(),
  /** `barman check` schedule, milliseconds; its last result shows in status. */
  checkEveryMs: z.number().int().min(5000).default(300_000),
  minimumRedundancy: z.number().int().min(0).default(0),
  /** How barman reaches a node on another host for a restore (`<this> postgres@<node host>`). */
  sshCommand: z.string().min(3).default('ssh -o BatchMode=yes'),
  /**
   * Parallel copy workers of a restore's `barman recover` (its --jobs; rsync's own one worker is barman's
   * default). 2 restored 1 GiB in 0.78× the time of 1 on a 2-core machine (bench, 2026-12-02); more
   * helps on more cores and faster disks.
   */
  recoveryJobs: z.number().int().min(1).max(32).default(2),
});

export { DEFAULT_REDIS_URL, RedisSchema, type RedisSettings } from './redis-schema.js';

export const DashboardSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: port.default(8080),
  /**
   * The token the dashboard, Bull Board and the API ask for (bearer header, or HTTP basic auth's
   * password in a browser). Set it here (PGHA_DASHBOARD_TOKEN) or in tokenFile; the dashboard does not
   * start without one.
   */
  token: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 24)').optional(),
  tokenFile: absPath.optional(),
  /** No writes from the dashboard: no retry, no POST /api/flows. */
  readOnly: z.boolean().default(false),
  /** GET /metrics without the token (Prometheus scrapers); false: it asks for the token too. */
  openMetrics: z.boolean().default(true),
});

/** Load balancers' health checks, served by each node worker (Patroni-style /primary, /replica, /health). */
export const HealthSchema = z.strictObject({
  port: port.default(8008),
  /** Address to listen on; default: the node's own host. */
  host: z.string().min(1).optional(),
  /** false: the health endpoints ask for the dashboard token too. */
  open: z.boolean().default(true),
});

export const ClusterConfigSchema = z
  .strictObject({
    cluster: safeName.default('pgha'),
    /** local: the whole cluster on this machine (seed passwords allowed, with a warning). */
    mode: z.enum(['local', 'hosts']).default('hosts'),
    redis: RedisSchema.default({ url: DEFAULT_REDIS_URL }),
    postgres: PostgresSchema.default(PostgresSchema.parse({})),
    repmgr: RepmgrSchema.default(RepmgrSchema.parse({})),
    replication: ReplicationSchema.default(ReplicationSchema.parse({})),
    barman: BarmanSchema.default(BarmanSchema.parse({})),
    /** Where workers keep their own files: passfiles, pid files, logs. */
    stateDir: absPath.default('/var/lib/pgha'),
    dashboard: DashboardSchema.default(DashboardSchema.parse({})),
    health: HealthSchema.default(HealthSchema.parse({})),
    fencing: FencingSchema.default(FencingSchema.parse({})),
    /** OS users the tools run as when the worker runs as root. */
    osUsers: z
      .strictObject({ postgres: safeName.default('postgres'), barman: safeName.default('barman') })
      .default({ postgres: 'postgres', barman: 'barman' }),
    nodes: z.array(NodeSchema).min(1, 'must list at least one node'),
  })
  .superRefine((cfg, ctx) => {
    for (const issue of crossChecks(cfg)) ctx.addIssue({ code: 'custom', ...issue });
  });

export interface CrossIssue {
  path: (string | number)[];
  message: string;
  input: unknown;
}

/**
 * Checks across fields: one master, unique names and hosts, distinct ports. Also run on the parts
 * that parse when something else in the file is wrong, so a user sees every problem at once.
 */
export function crossChecks(cfg: {
  nodes?: z.infer<typeof NodeSchema>[];
  postgres?: { port: number; technicalPort: number; parameters?: Record<string, ParameterValue> };
  replication?: { synchronous: 'quorum' | 'off' };
  dashboard?: { token?: string; tokenFile?: string };
  redis?: { url?: string; sentinels?: { host: string; port: number }[]; masterName?: string; password?: string; sentinelPassword?: string };
  repmgr?: RepmgrTimings & { failover: string };
  fencing?: FenceTimings & { enabled: boolean };
}): CrossIssue[] {
  const out: CrossIssue[] = [];
  for (const [name, value] of Object.entries(cfg.postgres?.parameters ?? {})) {
    const problem = ownedParameterProblem(name, value, cfg.replication?.synchronous ?? 'quorum');
    if (problem) out.push({ path: ['postgres', 'parameters', name], message: problem, input: value });
  }
  // only automatic failover promotes behind a cut-off primary's back; one node has no one to promote
  if (cfg.fencing?.enabled && cfg.repmgr?.failover === 'automatic' && (cfg.nodes?.length ?? 0) > 1) {
    const problem = fenceBudgetProblem(cfg.fencing, cfg.repmgr);
    if (problem) out.push({ path: ['fencing', 'afterMs'], message: problem, input: cfg.fencing.afterMs });
  }
  if (cfg.redis?.url !== undefined && cfg.redis.sentinels !== undefined) {
    out.push({ path: ['redis', 'sentinels'], message: 'set either redis.url or redis.sentinels (with redis.masterName), not both', input: cfg.redis.sentinels.map((s) => `${s.host}:${s.port}`) });
  }
  if (cfg.redis?.sentinels !== undefined && cfg.redis.masterName === undefined) {
    out.push({ path: ['redis', 'masterName'], message: "required with redis.sentinels: the name the sentinels monitor (sentinel monitor <name> …)", input: undefined });
  }
  if (cfg.redis?.url !== undefined && (cfg.redis.password !== undefined || cfg.redis.sentinelPassword !== undefined || cfg.redis.masterName !== undefined)) {
    out.push({ path: ['redis', 'url'], message: 'with redis.url, give the password inside the URL (redis://:PASSWORD@host:port); masterName and sentinelPassword go with redis.sentinels', input: cfg.redis.url.replace(/\/\/[^@]*@/, '//****@') });
  }
  if (cfg.dashboard?.token !== undefined && cfg.dashboard.tokenFile !== undefined) {
    out.push({ path: ['dashboard', 'tokenFile'], message: 'set either dashboard.token or dashboard.tokenFile, not both', input: cfg.dashboard.tokenFile });
  }
  if (cfg.nodes && cfg.nodes.length) {
    const masters = cfg.nodes.filter((n) => n.master);
    if (masters.length !== 1) {
      out.push({
        path: ['nodes'],
        message: `exactly one node must have master: true, found ${masters.length}`,
        input: masters.map((n) => n.name),
      });
    }
    const names = new Map<string, number>();
    const hosts = new Map<string, number>();
    cfg.nodes.forEach((n, i) => {
      if (names.has(n.name)) out.push({ path: ['nodes', i, 'name'], message: `duplicate node name, also nodes.${names.get(n.name)}.name`, input: n.name });
      else names.set(n.name, i);
      // every node keeps the same ports, so two nodes can never share a host
      if (hosts.has(n.host)) out.push({ path: ['nodes', i, 'host'], message: `two nodes on one host, also nodes.${hosts.get(n.host)}.host; give each node its own address`, input: n.host });
      else hosts.set(n.host, i);
    });
  }
  if (cfg.postgres && cfg.postgres.port === cfg.postgres.technicalPort) {
    out.push({ path: ['postgres', 'technicalPort'], message: 'must differ from postgres.port', input: cfg.postgres.technicalPort });
  }
  return out;
}

export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;
export type NodeConfig = z.infer<typeof NodeSchema>;
