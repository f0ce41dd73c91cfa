// PostgreSQL parameters a DBA sets in pgha.yaml (postgres.parameters), checked and planned (pure).
// Three checks, each naming the field: a parameter pgha owns is refused with the reason (schema
// time, always); a value PostgreSQL would refuse (unknown name, wrong type, out of range, read-only)
// against its own catalogue, pg_settings, read on a running node; and the roll-out an `apply` needs:
// a reload for sighup/user parameters, restarts for postmaster ones, and the order that keeps
// standbys able to replay (hot standby refuses settings lower than the primary's for a few).

/** Parameters pgha sets itself, with the reason and what to set instead. */
export const PGHA_OWNED: Record<string, string> = {
  wal_level: 'pgha sets it to replica: streaming replication, barman and pg_rewind need it',
  wal_log_hints: 'pgha keeps it on: pg_rewind needs it to bring a failed primary back as a standby',
  hot_standby: 'pgha keeps it on: standbys serve reads and repmgr checks them by SQL',
  port: 'set postgres.port instead',
  listen_addresses: "pgha sets each node's from its host in nodes[]",
  unix_socket_directories: 'set postgres.socketDir instead',
  max_wal_senders: 'set postgres.maxWalSenders instead',
  max_replication_slots: 'set postgres.maxReplicationSlots instead',
  synchronous_standby_names: "set replication.synchronous instead: the quorum keeper writes it from the standbys that stream",
  archive_mode: "WAL reaches barman by streaming through a replication slot; pgha owns the archive settings",
  archive_command: "WAL reaches barman by streaming through a replication slot; pgha owns the archive settings",
  archive_library: "WAL reaches barman by streaming through a replication slot; pgha owns the archive settings",
  password_encryption: "pgha keeps scram-sha-256: pg_hba's rules and the passwords it sets need it",
  primary_conninfo: 'repmgr writes it when a node follows a primary',
  primary_slot_name: 'repmgr writes it when a node follows a primary',
  restore_command: 'barman and pgha write recovery settings for a restore',
  recovery_target: 'a restore takes its target from pgha restore --target*',
  recovery_target_time: 'a restore takes its target from pgha restore --target-time',
  recovery_target_lsn: 'a restore takes its target from pgha restore --target-lsn',
  recovery_target_xid: 'a restore takes its target from pgha restore',
  recovery_target_name: 'a restore takes its target from pgha restore',
  recovery_target_timeline: 'a restore sets it',
  recovery_target_action: 'a restore sets it',
  recovery_target_inclusive: 'a restore sets it',
  recovery_end_command: 'barman and pgha write recovery settings for a restore',
  archive_cleanup_command: 'WAL reaches barman by streaming through a replication slot; pgha owns the archive settings',
  data_directory: 'set postgres.dataDir instead',
  config_file: 'pgha renders the configuration in the data directory',
  hba_file: 'pgha renders pg_hba.conf in the data directory',
  ident_file: 'pgha renders pg_ident.conf in the data directory',
};

/** Parameters a hot standby refuses to replay with when lower than the primary's (PostgreSQL's docs, 27.4.2 Hot Standby, "Administrator's Overview"). */
export const NOT_LOWER_ON_STANDBY = ['max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction'];

export type ParameterValue = string | number | boolean;

/**
 * Why pgha refuses `name` = `value` whatever PostgreSQL says, or null (pure). `synchronous`:
 * replication.synchronous; with quorum replication, a cluster-wide synchronous_commit that
 * acknowledges before a standby has the commit would let a failover lose it.
 */
export function ownedParameterProblem(name: string, value: ParameterValue, synchronous: 'quorum' | 'off'): string | null {
  const owned = PGHA_OWNED[name];
  if (owned) return `${owned}; remove it from postgres.parameters`;
  if (name.startsWith('pgha.')) return 'pgha.* settings are pgha\'s own (timeline reservations); remove it';
  if (name === 'shared_preload_libraries') {
    const libs = String(value).split(',').map((l) => l.trim().replace(/^"|"$/g, ''));
    if (!libs.includes('repmgr')) return `must include repmgr (repmgrd needs it loaded): e.g. '${['repmgr', ...libs.filter(Boolean)].join(',')}'`;
  }
  if (name === 'synchronous_commit' && synchronous === 'quorum' && ['off', 'local', 'false', 'no', '0'].includes(String(value).toLowerCase())) {
    return 'with replication.synchronous: quorum, commits must wait for a standby (on, remote_write or remote_apply): a failover could lose a commit acknowledged locally';
  }
  const off = ['off', 'false', 'no', '0', 'f', 'n'].includes(String(value).trim().toLowerCase());
  if (name === 'fsync' && off) return 'off loses acknowledged commits on a crash or power cut, and may corrupt the cluster; pgha keeps it on';
  if (name === 'full_page_writes' && off) return 'off can corrupt data after a crash and breaks pg_rewind, which brings a failed primary back as a standby; pgha keeps it on';
  if (typeof value === 'string' && /[\n\r\0]/.test(value)) return 'a value on one line';
  return null;
}

/** What pg_settings says of one parameter: its type, unit, bounds, context, and its value now (in its unit). */
export interface SettingInfo {
  name: string;
  vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
  /** pg_settings.unit: 'B', 'kB', '8kB', 'MB', '16MB', 'ms', 's', 'min', or null. */
  unit: string | null;
  min: number | null;
  max: number | null;
  enumvals: string[] | null;
  /** pg_settings.context: internal, postmaster, sighup, superuser-backend, backend, superuser, user. */
  context: string;
  /** pg_settings.setting: the value now, in `unit`. */
  setting: string;
  /** pg_settings.boot_val: what it falls back to when no file sets it. */
  bootVal: string | null;
  pendingRestart?: boolean;
  /** Set by pgha's parameters file (pgha-parameters.conf) now. */
  fromPgha?: boolean;
}

const MEMORY: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A pg_settings unit ('8kB', 'ms') as [family, size of one unit in bytes or ms] (pure). */
function unitSize(unit: string): [Record<string, number>, number] | null {
  const m = /^(\d*)(B|kB|MB|GB|TB|us|ms|s|min|h|d)$/.exec(unit);
  if (!m) return null;
  const family = m[2]! in MEMORY ? MEMORY : TIME;
  return [family, (m[1] ? Number(m[1]) : 1) * family[m[2]!]!];
}

const BOOL_TRUE = ['on', 'true', 'yes', '1', 't', 'y'];
const BOOL_FALSE = ['off', 'false', 'no', '0', 'f', 'n'];

/**
 * `value` as PostgreSQL would read it for `info` (pure): a number in the parameter's own unit, a
 * boolean, or a string; or why PostgreSQL would refuse it. Memory units are B, kB, MB, GB, TB (1024
 * apart) and time units us, ms, s, min, h, d, as in postgresql.conf (PostgreSQL's docs, 20.1.1
 * Parameter Names and Values); a number without a unit is in the parameter's unit.
 */
export function readSetting(value: ParameterValue, info: SettingInfo): { ok: true; value: number | boolean | string } | { ok: false; message: string } {
  const text = String(value).trim();
  switch (info.vartype) {
    case 'bool': {
      const t = text.toLowerCase();
      if (BOOL_TRUE.includes(t)) return { ok: true, value: true };
      if (BOOL_FALSE.includes(t)) return { ok: true, value: false };
      return { ok: false, message: 'must be a boolean (on or off)' };
    }
    case 'enum': {
      const hit = info.enumvals?.find((v) => v.toLowerCase() === text.toLowerCase());
      return hit ? { ok: true, value: hit } : { ok: false, message: `must be one of ${info.enumvals?.join(', ')}` };
    }
    case 'string':
      return { ok: true, value: text };
    default: {
      const m = /^(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)$/.exec(text);
      if (!m) return { ok: false, message: `must be ${info.vartype === 'integer' ? 'an integer' : 'a number'}${info.unit ? ` with an optional unit (the default unit is ${info.unit})` : ''}` };
      let n = Number(m[1]);
      if (m[2]) {
        const own = info.unit ? unitSize(info.unit) : null;
        const given = own ? own[0][m[2]] : undefined;
        if (!own || given === undefined) {
          const valid = own ? Object.keys(own[0]).join(', ') : 'none: it takes a plain number';
          return { ok: false, message: `unit ${m[2]} is not valid for this parameter (valid units: ${valid})` };
        }
        n = (n * given) / own[1];
      }
      // PostgreSQL rounds a converted integer to the nearest unit, halves to even (rint)
      if (info.vartype === 'integer') {
        if (!m[2] && !Number.isInteger(n)) return { ok: false, message: 'must be an integer' };
        const floor = Math.floor(n);
        n = n - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(n);
      }
      const unit = info.unit ? ` ${info.unit}` : '';
      if (info.min !== null && n < info.min) return { ok: false, message: `below the minimum ${info.min}${unit}` };
      if (info.max !== null && n > info.max) return { ok: false, message: `above the maximum ${info.max}${unit}` };
      return { ok: true, value: n };
    }
  }
}

export interface Problem {
  path: string;
  message: string;
}

/**
 * Every parameter checked against PostgreSQL's catalogue (pure): each problem names its field and
 * quotes the value. A name with a dot is a custom (extension) parameter: PostgreSQL takes any value
 * for it until the extension loads, so it is not checked here.
 */
export function checkParameters(params: Record<string, ParameterValue>, catalogue: Map<string, SettingInfo>, majorVersion = 15): Problem[] {
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(params)) {
    const path = `postgres.parameters.${name}`;
    if (name.includes('.')) continue;
    const info = catalogue.get(name);
    if (!info) {
      problems.push({ path, message: `not a PostgreSQL ${majorVersion} parameter (got ${JSON.stringify(value)})` });
      continue;
    }
    if (info.context === 'internal') {
      problems.push({ path, message: `read-only: PostgreSQL fixes it at initdb or build time (got ${JSON.stringify(value)})` });
      continue;
    }
    const r = readSetting(value, info);
    if (!r.ok) problems.push({ path, message: `${r.message} (got ${JSON.stringify(value)})` });
  }
  return problems;
}

/** One parameter that an apply changes on a node: from what to what, and whether PostgreSQL needs a restart for it. */
export interface ParameterChange {
  name: string;
  from: string;
  /** null: removed from postgres.parameters, back to PostgreSQL's default. */
  to: string | null;
  restart: boolean;
  /** raise/lower for NOT_LOWER_ON_STANDBY parameters, else null. */
  direction: 'raise' | 'lower' | null;
}

const same = (a: number | boolean | string, b: number | boolean | string) => (typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b);

/**
 * What applying `desired` changes on a node whose pg_settings is `current` (pure). Parameters pgha's
 * file sets now and `desired` no longer names go back to PostgreSQL's default. Values are compared
 * as PostgreSQL reads them ('256MB' = 32768 × 8kB).
 */
export function parameterChanges(desired: Record<string, ParameterValue>, current: Map<string, SettingInfo>): ParameterChange[] {
  const out: ParameterChange[] = [];
  const compare = (name: string, info: SettingInfo, to: string | null) => {
    const want = to === null ? (info.bootVal === null ? null : readSetting(info.bootVal, info)) : readSetting(to, info);
    const now = readSetting(info.setting, info);
    if (!want?.ok || !now.ok || same(want.value, now.value)) return;
    const direction = NOT_LOWER_ON_STANDBY.includes(name) && typeof want.value === 'number' && typeof now.value === 'number' ? (want.value > now.value ? 'raise' : 'lower') : null;
    out.push({ name, from: info.setting + (info.unit ? ` (${info.unit})` : ''), to, restart: info.context === 'postmaster', direction });
  };
  for (const [name, value] of Object.entries(desired)) {
    const info = current.get(name);
    if (info) compare(name, info, String(value));
  }
  for (const info of current.values()) if (info.fromPgha && !(info.name in desired)) compare(info.name, info, null);
  return out;
}

/** The roll-out an apply takes (pure): reload only; standbys then the primary by switchover and back; or the primary first. */
export type RollOut =
  | { ok: true; kind: 'reload'; reason: string }
  | { ok: true; kind: 'standbys-first' | 'primary-first'; restart: string[]; reason: string }
  | { ok: false; reason: string };

/**
 * How to roll `changes` out (pure). Postmaster parameters need a restart of every node. A standby
 * must never run with a NOT_LOWER_ON_STANDBY parameter below its primary's: raised, the standbys
 * restart first and the primary last (through a switchover to a standby and back, so that writes
 * stop only for the switchovers); lowered, the primary restarts first (in place: a switchover would
 * make the old primary a standby below its new primary), then the standbys. Both in one apply cannot
 * be ordered: refused.
 */
export function rollOut(changes: ParameterChange[]): RollOut {
  const restart = [...new Set(changes.filter((c) => c.restart).map((c) => c.name))];
  if (!restart.length) return { ok: true, kind: 'reload', reason: changes.length ? `${changes.length} change(s), none needs a restart: a reload on every node` : 'nothing changes' };
  const raised = [...new Set(changes.filter((c) => c.direction === 'raise').map((c) => c.name))];
  const lowered = [...new Set(changes.filter((c) => c.direction === 'lower').map((c) => c.name))];
  if (raised.length && lowered.length) {
    return { ok: false, reason: `${raised.join(', ')} raised and ${lowered.join(', ')} lowered: a standby may hold neither below the primary, so no order restarts both; apply one direction at a time` };
  }
  if (lowered.length) return { ok: true, kind: 'primary-first', restart, reason: `${lowered.join(', ')} lowered: the primary restarts first (a short stop of writes), then each standby` };
  return { ok: true, kind: 'standbys-first', restart, reason: `${restart.join(', ')} need${restart.length === 1 ? 's' : ''} a restart: each standby in turn, then the primary through a switchover and back` };
}

/** pgha-parameters.conf: the parameters, one per line, each value quoted as postgresql.conf takes it (pure). */
export function renderParametersConf(params: Record<string, ParameterValue>): string {
  const lines = ['# Written by pgha (postgres.parameters, applied by pgha config apply): edits here are lost.'];
  // the value checked is the trimmed one; inside quotes postgresql.conf reads backslash escapes (\t, \\) and '' as a quote
  for (const [name, value] of Object.entries(params).sort(([a], [b]) => a.localeCompare(b))) lines.push(`${name} = '${String(value).trim().replace(/\\/g, '\\\\').replace(/'/g, "''")}'`);
  return lines.join('\n') + '\n';
}

/** The file, in the data directory, that holds the applied parameters; pgha.conf includes it (a clone or rewind copies it). */
export const PARAMETERS_CONF = 'pgha-parameters.conf';

/** pg_settings as SettingInfo rows: the query, and a row's reading. */
export const SETTINGS_SQL = `SELECT name, vartype, unit, min_val, max_val, enumvals, context, setting, boot_val, pending_restart,
  coalesce(sourcefile LIKE '%/${PARAMETERS_CONF}', false) AS from_pgha FROM pg_settings`;

export function settingInfoOf(row: Record<string, any>): SettingInfo {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    name: row.name,
    vartype: row.vartype,
    unit: row.unit ?? null,
    min: num(row.min_val),
    max: num(row.max_val),
    enumvals: row.enumvals ?? null,
    context: row.context,
    setting: row.setting,
    bootVal: row.boot_val ?? null,
    pendingRestart: row.pending_restart === true,
    fromPgha: row.from_pgha === true,
  };
}

/** The recovery target settings: barman recover writes them, pgha resets them once the restore promoted. */
export const RECOVERY_TARGET_SETTINGS = [
  'recovery_target',
  'recovery_target_time',
  'recovery_target_lsn',
  'recovery_target_xid',
  'recovery_target_name',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_timeline',
];

/**
 * Select-list columns for pendingRestartOf: the names pg_settings marks pending_restart, and which
 * recovery target settings the configuration files still set (pg_file_settings: superuser or
 * pg_read_all_settings). Select `pg_is_in_recovery() AS recovery` beside them.
 */
export const PENDING_RESTART_COLUMNS = `(SELECT coalesce(array_agg(name::text ORDER BY name), '{}') FROM pg_settings WHERE pending_restart) AS pending_restart,
           (SELECT coalesce(array_agg(DISTINCT name::text), '{}') FROM pg_file_settings WHERE name LIKE 'recovery_target%') AS recovery_targets_in_files`;

/**
 * Of the names pg_settings marks pending_restart, those a restart would change (pure). The recovery
 * target settings are read at server start and used only when that start begins a recovery
 * (recovery_target_timeline in every archive recovery and standby, the others only with a target
 * set): PostgreSQL 15 docs, 20.5.6 Recovery Target. On a node out of recovery, one the files no
 * longer set (pgha's reset once a restore promoted) changes nothing now and is simply absent at the
 * next start: no restart called for. One the files still set stays listed (a later start as a standby
 * would use it), and a node in recovery keeps every name.
 */
export function restartNeededFor(pending: string[], inRecovery: boolean, targetsInFiles: string[]): string[] {
  if (inRecovery) return pending;
  return pending.filter((name) => !RECOVERY_TARGET_SETTINGS.includes(name) || targetsInFiles.includes(name));
}

/** restartNeededFor on a row of PENDING_RESTART_COLUMNS and `recovery`. */
export function pendingRestartOf(row: { recovery: boolean; pending_restart: string[] | null; recovery_targets_in_files: string[] | null }): string[] {
  return restartNeededFor(row.pending_restart ?? [], row.recovery === true, row.recovery_targets_in_files ?? []);
}
