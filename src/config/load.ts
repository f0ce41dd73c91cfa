// Reading pgha.yaml: file values, then PGHA_* environment overrides, then the zod schema.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shellQuote } from '../cli-entry.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ClusterConfigSchema, crossChecks, DashboardSchema, FencingSchema, PostgresSchema, RedisSchema, RepmgrSchema, ReplicationSchema, type NodeConfig, SECRET_PATHS, SEED_PASSWORDS, type ClusterConfig } from './schema.js';
import { DEFAULT_LOCAL_DIR } from './paths.js';

/** PGHA_* variables that are not cluster config: which file and node, the local folder, process knobs (log level, shutdown grace), the crash-safety suite's crash point. */
export const NON_CONFIG_ENV = new Set(['PGHA_CONFIG', 'PGHA_NODE', 'PGHA_LOCAL_DIR', 'PGHA_LOG_LEVEL', 'PGHA_SHUTDOWN_GRACE_MS', 'PGHA_CRASH_POINT_FILE']);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid pgha config:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export interface LoadedConfig {
  config: ClusterConfig;
  warnings: string[];
}

const camelToSnake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/**
 * Every leaf path the schema knows, with its PGHA_* variable: postgres.technicalPort -> PGHA_POSTGRES_TECHNICAL_PORT.
 * Walked from the zod schema itself (zod 4's public `def`) rather than by an env-loading library:
 * those (envalid, convict and the like) declare each variable a second time in their own format;
 * this walk keeps the schema the one place a setting is declared, lets unknown PGHA_* variables be
 * refused, reads YAML values for lists and maps, and reports problems in the file's
 * `path: what is wrong (got X)` form.
 */
export function envVariables(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (schema: z.ZodType, path: string[]) => {
    let s: any = schema;
    // unwrap defaults/optionals/pipes to reach the object shape
    while (s?.def && ['default', 'optional', 'pipe', 'prefault'].includes(s.def.type)) s = s.def.innerType ?? s.def.in;
    if (s?.def?.type === 'object') {
      for (const [key, child] of Object.entries(s.def.shape as Record<string, z.ZodType>)) walk(child, [...path, key]);
    } else {
      out.set('PGHA_' + path.map(camelToSnake).join('_'), path);
    }
  };
  walk(ClusterConfigSchema as unknown as z.ZodType, []);
  return out;
}

/** An env string as a YAML scalar or flow collection: "5433" -> 5433, "true" -> true, "[{name: a}]" -> array. */
function envValue(raw: string): unknown {
  try {
    return parseYaml(raw);
  } catch {
    return raw;
  }
}

function setPath(obj: Record<string, any>, path: string[], value: unknown) {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    if (cur[key] === undefined || cur[key] === null || typeof cur[key] !== 'object') cur[key] = {};
    cur = cur[key];
  }
  cur[path[path.length - 1]] = value;
}

function getPath(obj: unknown, path: (string | number | symbol)[]): unknown {
  let cur: any = obj;
  for (const key of path) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[key as any];
  }
  return cur;
}

const isSecretPath = (path: string) => SECRET_PATHS.includes(path);
/** Unknown keys and variables named like a secret (a misspelt `pasword:`) get their value masked too. */
const LOOKS_SECRET = /pas|pwd|secret|token/i;

function shown(value: unknown, path: string, secret = isSecretPath(path)): string {
  if (value === undefined) return 'nothing';
  if (secret) return '****';
  const text = JSON.stringify(value);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

/** `path.to.field: what is wrong (got X)` for every problem zod found. */
export function formatIssues(error: z.ZodError, input: unknown): string[] {
  const lines: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key].join('.');
        lines.push(`${path}: unknown key, remove it or check its spelling (got ${shown(getPath(input, [...issue.path, key]), path, LOOKS_SECRET.test(key))})`);
      }
      continue;
    }
    const path = issue.path.join('.') || '(top level)';
    const got = 'input' in issue && issue.input !== undefined ? issue.input : getPath(input, issue.path);
    let message = issue.message;
    if (issue.code === 'invalid_type') message = `must be ${issue.expected}`;
    lines.push(`${path}: ${message} (got ${shown(got, path)})`);
  }
  return lines;
}

/**
 * Validate raw config values (already merged with env). Seed passwords: error outside local mode,
 * warning inside it.
 */
export function resolveConfig(raw: unknown, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const problems: string[] = [];
  const merged: Record<string, any> =
    raw && typeof raw === 'object' && !Array.isArray(raw) ? structuredClone(raw as Record<string, any>) : {};
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    problems.push(`(top level): must be a mapping of keys to values (got ${shown(raw, '')})`);
  }
  const known = envVariables();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PGHA_') || NON_CONFIG_ENV.has(name) || value === undefined) continue;
    const path = known.get(name);
    if (!path) {
      problems.push(`${name}: unknown environment variable, known ones are ${[...known.keys()].join(', ')} (got ${shown(value, '', LOOKS_SECRET.test(name))})`);
      continue;
    }
    setPath(merged, path, isSecretPath(path.join('.')) ? value : envValue(value));
  }
  // reportInput: zod drops issue.input otherwise, and the custom checks (technicalPort == port on a
  // defaulted value, the masters' names) would print "(got nothing)" or the wrong value
  const result = ClusterConfigSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    problems.push(...formatIssues(result.error, merged));
    // zod skips the cross-field checks when a field is wrong: run them on the parts that parse
    const nodes = z.array(z.looseObject({ name: z.string(), host: z.string(), master: z.boolean().default(false) })).safeParse(merged.nodes ?? []);
    const postgres = PostgresSchema.safeParse(merged.postgres ?? {});
    const dashboard = DashboardSchema.safeParse(merged.dashboard ?? {});
    const redis = RedisSchema.safeParse(merged.redis ?? {});
    const repmgr = RepmgrSchema.safeParse(merged.repmgr ?? {});
    const fencing = FencingSchema.safeParse(merged.fencing ?? {});
    const replication = ReplicationSchema.safeParse(merged.replication ?? {});
    const cross = crossChecks({
      replication: replication.success ? replication.data : undefined,
      nodes: nodes.success ? (nodes.data as NodeConfig[]) : undefined,
      postgres: postgres.success ? postgres.data : undefined,
      dashboard: dashboard.success ? dashboard.data : undefined,
      redis: redis.success ? redis.data : undefined,
      repmgr: repmgr.success ? repmgr.data : undefined,
      fencing: fencing.success ? fencing.data : undefined,
    });
    for (const c of cross) {
      const line = `${c.path.join('.')}: ${c.message} (got ${shown(c.input, c.path.join('.'))})`;
      if (!problems.includes(line)) problems.push(line);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  const config = result.data!;
  const warnings: string[] = [];
  const seedProblems: string[] = [];
  for (const [path, seed] of Object.entries(SEED_PASSWORDS)) {
    if (getPath(config, path.split('.')) !== seed) continue;
    if (config.mode === 'local') warnings.push(`${path}: uses the seed's default password; fine for local mode, never in production`);
    else seedProblems.push(`${path}: the seed's default password is allowed only with mode: local; set your own (got ****)`);
  }
  if (seedProblems.length) throw new ConfigError(seedProblems);
  return { config, warnings };
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the config file (${(err as Error).message})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError([`${file}: not valid YAML (${(err as Error).message.split('\n')[0]})`]);
  }
  return resolveConfig(raw, env);
}

/** Where a config came from: a pgha.yaml (named how), or the PGHA_* variables alone (a container). */
export type ConfigSource = { kind: 'file'; path: string; via: '--config' | '--dir' | 'PGHA_CONFIG' | 'default folder' } | { kind: 'env' };

/** Whether `env` sets any PGHA_* variable of the cluster's config (not PGHA_CONFIG, PGHA_LOG_LEVEL, …). */
export const setsConfigVariables = (env: NodeJS.ProcessEnv) => Object.keys(env).some((k) => k.startsWith('PGHA_') && !NON_CONFIG_ENV.has(k) && env[k] !== undefined);

/**
 * The one rule every command, worker and the dashboard use to find the cluster's config (pure):
 * `--config FILE`; else `--dir DIR`'s pgha.yaml (a local cluster's folder); else the file PGHA_CONFIG
 * names; else, when any PGHA_* config variable is set (a container configured by variables), those
 * variables alone; else the default local folder's pgha.yaml. A flag beats a variable. Whatever the
 * source, PGHA_* variables override the file's values (`env`).
 */
export function configSource(opts: { config?: string; dir?: string }, env: NodeJS.ProcessEnv = process.env): ConfigSource {
  if (opts.config) return { kind: 'file', path: opts.config, via: '--config' };
  if (opts.dir) return { kind: 'file', path: join(opts.dir, 'pgha.yaml'), via: '--dir' };
  if (env.PGHA_CONFIG) return { kind: 'file', path: env.PGHA_CONFIG, via: 'PGHA_CONFIG' };
  if (setsConfigVariables(env)) return { kind: 'env' };
  return { kind: 'file', path: join(DEFAULT_LOCAL_DIR, 'pgha.yaml'), via: 'default folder' };
}

/** The source in words, for messages: "/etc/pgha.yaml (--config)", "the PGHA_* environment variables". */
export function describeSource(source: ConfigSource): string {
  return source.kind === 'env' ? 'the PGHA_* environment variables' : `${source.path} (${source.via})`;
}

/** What to do when the file a source names is not there (pure): each hint fits how it was named. */
export function missingConfigProblem(source: ConfigSource & { kind: 'file' }, dir?: string): string {
  switch (source.via) {
    case '--config':
      return `${source.path}: no such file (--config); check the path`;
    case 'PGHA_CONFIG':
      return `${source.path}: no such file (named by PGHA_CONFIG); check the variable, or pass --config FILE`;
    case '--dir':
      return dir && /(^|\/)pgha\.ya?ml$/.test(dir)
        ? `${dir}: --dir takes the local cluster's folder, not its file (--dir ${shellQuote(dirname(dir))}, or --config ${shellQuote(dir)})`
        : `no local cluster in ${dir} (${source.path} is missing): make one with pgha local up --dir ${shellQuote(dir ?? '')}, or pass --config FILE`;
    default:
      return `no config found: pass --config FILE or set PGHA_CONFIG (or the PGHA_* variables); for a local cluster, --dir DIR (there is none in ${DEFAULT_LOCAL_DIR} here)`;
  }
}

/**
 * Load the config found by configSource. Throws ConfigError naming every problem (a retry cannot
 * help: the file or the variables must be fixed), or, for a missing file, what to pass instead.
 */
export function loadConfig(opts: { config?: string; dir?: string } = {}, env: NodeJS.ProcessEnv = process.env): LoadedConfig & { source: ConfigSource } {
  const source = configSource(opts, env);
  if (source.kind === 'env') return { ...resolveConfig({}, env), source };
  if (!existsSync(source.path)) throw new ConfigError([missingConfigProblem(source, opts.dir)]);
  return { ...loadConfigFile(source.path, env), source };
}

/** The resolved config with every secret replaced by ****, for printing. */
export function maskSecrets(config: ClusterConfig): ClusterConfig {
  const copy = structuredClone(config) as any;
  for (const path of SECRET_PATHS) {
    const keys = path.split('.');
    const parent = getPath(copy, keys.slice(0, -1)) as any;
    if (parent && parent[keys[keys.length - 1]] !== undefined) parent[keys[keys.length - 1]] = '****';
  }
  return copy;
}

/** Every secret value of the config, for redaction of logs and command output. */
export function secretsOf(config: ClusterConfig): string[] {
  return SECRET_PATHS.map((p) => getPath(config, p.split('.'))).filter((v): v is string => typeof v === 'string' && v.length > 0);
}
