import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  configSource,
  describeSource,
  loadConfig,
  NON_CONFIG_ENV,
  envVariables,
  loadConfigFile,
  maskSecrets,
  resolveConfig,
  secretsOf,
} from '../../src/config/load.js';
import {
  BarmanSchema,
  ClusterConfigSchema,
  PostgresSchema,
  RepmgrSchema,
  SECRET_PATHS,
  SEED_PASSWORDS,
} from '../../src/config/schema.js';
import { CUSTOM_PASSWORDS, LOCAL_NODES, PROBLEM_LINE, localConfig, localRaw, problemsOf } from './helpers.js';

const SEED_PATHS = Object.keys(SEED_PASSWORDS);

const SEED_VALUES = ['mysecretpassword', 'iamrepmgr', 'iamstreamingrepmgr', 'iambarman', 'iamstreamingbarman'];

/** Problems of resolveConfig(raw, env); also checks every line has the documented format. */
function problems(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  const lines = problemsOf(() => resolveConfig(raw, env));
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(line).toMatch(PROBLEM_LINE);
  return lines;
}

describe('schema defaults are the seed values', () => {
  const { config } = resolveConfig(localRaw());

  it('postgres defaults', () => {
    expect(config.postgres.port).toBe(5432);
    expect(config.postgres.technicalPort).toBe(5434);
    expect(config.postgres.dataDir).toBe('/var/lib/postgresql');
    expect(config.postgres.rootPassword).toBe('mysecretpassword');
    expect(config.postgres.allowedNetworks).toEqual([]);
  });

  it('repmgr defaults', () => {
    expect(config.repmgr.configDir).toBe('/etc/repmgr.d/');
    expect(config.repmgr.password).toBe('iamrepmgr');
    expect(config.repmgr.streamingPassword).toBe('iamstreamingrepmgr');
  });

  it('barman defaults', () => {
    expect(config.barman.password).toBe('iambarman');
    expect(config.barman.streamingPassword).toBe('iamstreamingbarman');
    expect(config.barman.backupDir).toBe('/home/barman/data');
    expect(config.barman.retentionPolicy).toBe('RECOVERY WINDOW OF 5 DAYS');
    expect(config.barman.configDir).toBe('/etc/barman.d/');
  });

  it('cluster-level defaults', () => {
    expect(config.cluster).toBe('pgha');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.mode).toBe('local');
    expect(config.nodes.map((n) => n.priority)).toEqual([100, 100, 100]);
    expect(config.nodes.map((n) => n.master)).toEqual([true, false, false]);
  });

  it('an empty section gets the same defaults as a missing one', () => {
    const a = resolveConfig(localRaw()).config;
    const b = resolveConfig(localRaw({ postgres: {}, repmgr: {}, barman: {} })).config;
    expect(b).toEqual(a);
  });

  it('section schemas parse {} to the seed defaults', () => {
    expect(PostgresSchema.parse({})).toMatchObject({ port: 5432, technicalPort: 5434, dataDir: '/var/lib/postgresql', rootPassword: 'mysecretpassword' });
    expect(RepmgrSchema.parse({})).toEqual({
      configDir: '/etc/repmgr.d/',
      password: 'iamrepmgr',
      streamingPassword: 'iamstreamingrepmgr',
      // repmgrd tuned to fail over in about 3 s, the node workers' detector before it; fencing after 30 s without any standby
      failover: 'automatic',
      fastFailover: true,
      monitorIntervalSecs: 1,
      reconnectAttempts: 3,
      reconnectIntervalSecs: 1,
      fenceAfterSecs: 30,
    });
    expect(BarmanSchema.parse({})).toMatchObject({
      password: 'iambarman',
      streamingPassword: 'iamstreamingbarman',
      backupDir: '/home/barman/data',
      retentionPolicy: 'RECOVERY WINDOW OF 5 DAYS',
      configDir: '/etc/barman.d/',
    });
  });

  it('the schema without mode defaults to hosts mode', () => {
    const parsed = ClusterConfigSchema.parse({ nodes: LOCAL_NODES });
    expect(parsed.mode).toBe('hosts');
  });

  it('SEED_PASSWORDS name the five passwords; SECRET_PATHS are those, the dashboard token and the Redis passwords', () => {
    expect(SEED_PATHS).toEqual(['postgres.rootPassword', 'repmgr.password', 'repmgr.streamingPassword', 'barman.password', 'barman.streamingPassword']);
    expect(SEED_PATHS.map((p) => SEED_PASSWORDS[p])).toEqual(SEED_VALUES);
    expect(SECRET_PATHS).toEqual([...SEED_PATHS, 'dashboard.token', 'redis.password', 'redis.sentinelPassword']);
  });

  it('file values override defaults', () => {
    const { config: c } = resolveConfig(
      localRaw({ cluster: 'prod_1', postgres: { port: 6000, technicalPort: 6001 }, barman: { retentionPolicy: 'REDUNDANCY 3' } }),
    );
    expect(c.cluster).toBe('prod_1');
    expect(c.postgres.port).toBe(6000);
    expect(c.postgres.technicalPort).toBe(6001);
    expect(c.barman.retentionPolicy).toBe('REDUNDANCY 3');
    // untouched siblings keep their defaults
    expect(c.postgres.dataDir).toBe('/var/lib/postgresql');
  });
});

describe('environment overrides', () => {
  it('PGHA_POSTGRES_PORT=5440 becomes the number 5440', () => {
    const { config } = resolveConfig(localRaw(), { PGHA_POSTGRES_PORT: '5440' });
    expect(config.postgres.port).toBe(5440);
    expect(typeof config.postgres.port).toBe('number');
  });

  it('env wins over the file value', () => {
    const { config } = resolveConfig(localRaw({ postgres: { port: 6000 } }), { PGHA_POSTGRES_PORT: '5440' });
    expect(config.postgres.port).toBe(5440);
  });

  it('camelCase fields map to SNAKE_CASE variables', () => {
    const { config } = resolveConfig(localRaw(), {
      PGHA_POSTGRES_TECHNICAL_PORT: '6543',
      PGHA_BARMAN_RETENTION_POLICY: 'REDUNDANCY 2',
      PGHA_BARMAN_CRON_EVERY_MS: '5000',
      PGHA_OS_USERS_POSTGRES: 'pg',
    });
    expect(config.postgres.technicalPort).toBe(6543);
    expect(config.barman.retentionPolicy).toBe('REDUNDANCY 2');
    expect(config.barman.cronEveryMs).toBe(5000);
    expect(config.osUsers.postgres).toBe('pg');
  });

  it('PGHA_REDIS_URL sets redis.url', () => {
    const { config } = resolveConfig(localRaw(), { PGHA_REDIS_URL: 'redis://10.1.2.3:6380/2' });
    expect(config.redis.url).toBe('redis://10.1.2.3:6380/2');
  });

  it('PGHA_NODES is read as a YAML flow list and replaces the file nodes', () => {
    const { config } = resolveConfig(localRaw(), {
      PGHA_NODES: '[{name: a, host: 10.0.0.1, master: true}, {name: b, host: 10.0.0.2, priority: 50}]',
    });
    expect(config.nodes).toEqual([
      { name: 'a', host: '10.0.0.1', master: true, priority: 100 },
      { name: 'b', host: '10.0.0.2', master: false, priority: 50 },
    ]);
  });

  it('PGHA_NODES works with no nodes in the file at all', () => {
    const { config } = resolveConfig({ mode: 'local' }, { PGHA_NODES: '[{name: solo, host: 127.0.0.5, master: true}]' });
    expect(config.nodes.map((n) => n.name)).toEqual(['solo']);
  });

  it('PGHA_POSTGRES_ALLOWED_NETWORKS is read as a YAML list', () => {
    const { config } = resolveConfig(localRaw(), { PGHA_POSTGRES_ALLOWED_NETWORKS: '[10.0.0.0/8, 192.168.1.0/24]' });
    expect(config.postgres.allowedNetworks).toEqual(['10.0.0.0/8', '192.168.1.0/24']);
  });

  it('passwords from env are kept as strings even when they look like numbers, booleans or lists', () => {
    const { config } = resolveConfig(localRaw(), {
      PGHA_REPMGR_PASSWORD: '12345',
      PGHA_REPMGR_STREAMING_PASSWORD: 'true',
      PGHA_BARMAN_PASSWORD: '[a, b]',
      PGHA_BARMAN_STREAMING_PASSWORD: '007',
      PGHA_POSTGRES_ROOT_PASSWORD: 'null',
    });
    expect(config.repmgr.password).toBe('12345');
    expect(config.repmgr.streamingPassword).toBe('true');
    expect(config.barman.password).toBe('[a, b]');
    expect(config.barman.streamingPassword).toBe('007');
    expect(config.postgres.rootPassword).toBe('null');
  });

  it('PGHA_MODE=local turns a hosts-mode file into local mode (seed passwords then allowed)', () => {
    expect(() => resolveConfig({ nodes: LOCAL_NODES })).toThrow(ConfigError);
    const { config, warnings } = resolveConfig({ nodes: LOCAL_NODES }, { PGHA_MODE: 'local' });
    expect(config.mode).toBe('local');
    expect(warnings).toHaveLength(5);
  });

  it('an unknown PGHA_ variable is an error that lists the known ones', () => {
    const lines = problems(localRaw(), { PGHA_FOO: 'bar' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^PGHA_FOO: unknown environment variable, known ones are .*PGHA_POSTGRES_PORT.* \(got "bar"\)$/);
    expect(lines[0]).toContain('PGHA_NODES');
  });

  it('PGHA_CONFIG, PGHA_NODE, PGHA_LOCAL_DIR and the process knobs are not config values and are ignored', () => {
    expect([...NON_CONFIG_ENV].sort()).toEqual(['PGHA_CONFIG', 'PGHA_CRASH_POINT_FILE', 'PGHA_LOCAL_DIR', 'PGHA_LOG_LEVEL', 'PGHA_NODE', 'PGHA_SHUTDOWN_GRACE_MS']);
    const plain = resolveConfig(localRaw()).config;
    const { config } = resolveConfig(localRaw(), {
      PGHA_CONFIG: '/etc/pgha.yaml',
      PGHA_NODE: 'node2',
      PGHA_LOCAL_DIR: '/tmp/x',
      PGHA_LOG_LEVEL: 'debug',
      PGHA_SHUTDOWN_GRACE_MS: '1000',
      PGHA_CRASH_POINT_FILE: '/tmp/x/crash-point.json',
    });
    expect(config).toEqual(plain);
  });

  it('variables without the PGHA_ prefix and undefined values are ignored', () => {
    const plain = resolveConfig(localRaw()).config;
    const { config } = resolveConfig(localRaw(), { HOME: '/root', PATH: '/bin', POSTGRES_PORT: '1', PGHA_POSTGRES_PORT: undefined });
    expect(config).toEqual(plain);
  });

  it('a bad env value is reported under the config path', () => {
    expect(problems(localRaw(), { PGHA_POSTGRES_PORT: 'abc' })).toEqual(['postgres.port: must be number (got "abc")']);
  });

  it('PGHA_NODES that is not a valid YAML list is reported', () => {
    expect(problems(localRaw(), { PGHA_NODES: '[{name: n1' })).toEqual(['nodes: must be array (got "[{name: n1")']);
  });

  it('does not mutate the raw input', () => {
    const raw = localRaw({ postgres: { port: 6000 } });
    const before = structuredClone(raw);
    resolveConfig(raw, { PGHA_POSTGRES_PORT: '5440', PGHA_REDIS_URL: 'redis://x:1' });
    expect(raw).toEqual(before);
  });

  it('envVariables maps every leaf to its variable', () => {
    const vars = envVariables();
    expect(vars.get('PGHA_POSTGRES_PORT')).toEqual(['postgres', 'port']);
    expect(vars.get('PGHA_POSTGRES_TECHNICAL_PORT')).toEqual(['postgres', 'technicalPort']);
    expect(vars.get('PGHA_REDIS_URL')).toEqual(['redis', 'url']);
    expect(vars.get('PGHA_NODES')).toEqual(['nodes']);
    expect(vars.get('PGHA_REPMGR_PASSWORD')).toEqual(['repmgr', 'password']);
    expect(vars.get('PGHA_BARMAN_STREAMING_PASSWORD')).toEqual(['barman', 'streamingPassword']);
    expect(vars.get('PGHA_STATE_DIR')).toEqual(['stateDir']);
    // objects are not leaves
    expect(vars.has('PGHA_POSTGRES')).toBe(false);
    for (const name of NON_CONFIG_ENV) expect(vars.has(name)).toBe(false);
  });
});

describe('validation problems: `path: what is wrong (got X)`', () => {
  it('unknown key at top level', () => {
    expect(problems(localRaw({ foo: 1 }))).toEqual(['foo: unknown key, remove it or check its spelling (got 1)']);
  });

  it('unknown keys nested in a section and in a node', () => {
    const raw = localRaw({ postgres: { prot: 5433 } });
    (raw.nodes as Record<string, unknown>[])[1].extra = 'x';
    const lines = problems(raw);
    expect(lines).toContain('postgres.prot: unknown key, remove it or check its spelling (got 5433)');
    expect(lines).toContain('nodes.1.extra: unknown key, remove it or check its spelling (got "x")');
    expect(lines).toHaveLength(2);
  });

  it.each([
    ['node 1', 'only letters, digits, "-" and "_" are allowed'],
    ['a/b', 'only letters, digits, "-" and "_" are allowed'],
    ['x:y', 'only letters, digits, "-" and "_" are allowed'],
    ['x'.repeat(64), 'must be at most 63 characters'],
  ])('bad node name %j', (name, why) => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[0].name = name;
    expect(problems(raw)).toEqual([`nodes.0.name: ${why} (got ${JSON.stringify(name)})`]);
  });

  it.each([
    ['0 0 * *', 'Constraint error, got value 0 expected range 1-31'],
    ['61 0 * * *', 'Constraint error, got value 61 expected range 0-59'],
    ['0 0 * * * * *', 'Invalid cron expression, too many fields'],
    ['daily', ''],
  ])('barman.backupCron %j is checked by the cron parser BullMQ uses', (cron, why) => {
    const lines = problems(localRaw({ barman: { backupCron: cron } }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^barman\\.backupCron: not a cron pattern \\(.*\\); e\\.g\\. "0 0 \\* \\* \\*" is daily at 00:00 UTC \\(got ${JSON.stringify(cron).replace(/[*.]/g, '\\$&')}\\)$`));
    expect(lines[0]).toContain(why);
  });

  it.each(['0 0 * * *', '*/15 * * * *', '30 2 * * 0', '@daily'])('barman.backupCron %j is accepted', (cron) => {
    expect(resolveConfig(localRaw({ barman: { backupCron: cron } })).config.barman.backupCron).toBe(cron);
  });

  it('empty node name', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[2].name = '';
    expect(problems(raw)).toContain('nodes.2.name: must not be empty (got "")');
  });

  it('accepts names with letters, digits, - and _', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[0].name = 'Pg-node_01';
    expect(resolveConfig(raw).config.nodes[0].name).toBe('Pg-node_01');
  });

  it('bad cluster name', () => {
    expect(problems(localRaw({ cluster: 'my cluster' }))).toEqual(['cluster: only letters, digits, "-" and "_" are allowed (got "my cluster")']);
  });

  it('duplicate node names', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[2].name = 'node1';
    expect(problems(raw)).toEqual(['nodes.2.name: duplicate node name, also nodes.0.name (got "node1")']);
  });

  it('duplicate hosts', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[1].host = '127.0.0.11';
    expect(problems(raw)).toEqual([
      'nodes.1.host: two nodes on one host, also nodes.0.host; give each node its own address (got "127.0.0.11")',
    ]);
  });

  it('no master', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[0].master = false;
    expect(problems(raw)).toEqual(['nodes: exactly one node must have master: true, found 0 (got [])']);
  });

  it('two masters', () => {
    const raw = localRaw();
    (raw.nodes as Record<string, unknown>[])[2].master = true;
    expect(problems(raw)).toEqual(['nodes: exactly one node must have master: true, found 2 (got ["node1","node3"])']);
  });

  it('empty nodes list', () => {
    const lines = problems(localRaw({ nodes: [] }));
    expect(lines).toContain('nodes: must list at least one node (got [])');
  });

  it('missing nodes', () => {
    expect(problems({ mode: 'local' })).toEqual(['nodes: must be array (got nothing)']);
  });

  it.each([
    [{ postgres: { port: '5432' } }, 'postgres.port: must be number (got "5432")'],
    [{ postgres: { port: 1.5 } }, 'postgres.port: must be int (got 1.5)'],
    [{ postgres: 5 }, 'postgres: must be object (got 5)'],
    [{ nodes: {} }, 'nodes: must be array (got {})'],
    [{ nodes: [{ name: 'n', host: 'h', master: 'yes' }] }, 'nodes.0.master: must be boolean (got "yes")'],
    [{ postgres: { allowedNetworks: '10.0.0.0/8' } }, 'postgres.allowedNetworks: must be array (got "10.0.0.0/8")'],
    [{ mode: 'cloud' }, 'mode: Invalid option: expected one of "local"|"hosts" (got "cloud")'],
    [{ redis: { url: 'http://localhost:6379' } }, 'redis.url: must be a redis:// or rediss:// URL (got "http://localhost:6379")'],
  ])('wrong type or value %j', (extra, line) => {
    expect(problems(localRaw(extra))).toContain(line);
  });

  it.each([0, 65536, -1, 100000])('port %d is out of range', (port) => {
    expect(problems(localRaw({ postgres: { port } }))).toEqual([`postgres.port: must be a TCP port (1-65535) (got ${port})`]);
  });

  it.each([1, 65535])('port %d is accepted', (port) => {
    expect(resolveConfig(localRaw({ postgres: { port } })).config.postgres.port).toBe(port);
  });

  it('out-of-range technicalPort and dashboard port', () => {
    const lines = problems(localRaw({ postgres: { technicalPort: 70000 }, dashboard: { port: 0 } }));
    expect(lines).toContain('postgres.technicalPort: must be a TCP port (1-65535) (got 70000)');
    expect(lines).toContain('dashboard.port: must be a TCP port (1-65535) (got 0)');
  });

  it('technicalPort equal to port (both given)', () => {
    expect(problems(localRaw({ postgres: { port: 6000, technicalPort: 6000 } }))).toEqual([
      'postgres.technicalPort: must differ from postgres.port (got 6000)',
    ]);
  });

  it('port equal to the default technicalPort shows the defaulted value', () => {
    expect(problems(localRaw({ postgres: { port: 5434 } }))).toEqual(['postgres.technicalPort: must differ from postgres.port (got 5434)']);
  });

  it.each(['FOREVER', 'RECOVERY WINDOW OF 0 DAYS', 'RECOVERY WINDOW OF 5 YEARS', 'recovery window of 5 days', 'REDUNDANCY 0', 'REDUNDANCY', ' REDUNDANCY 2'])(
    'bad retention policy %j',
    (policy) => {
      expect(problems(localRaw({ barman: { retentionPolicy: policy } }))).toEqual([
        `barman.retentionPolicy: must be "RECOVERY WINDOW OF <n> DAYS|WEEKS|MONTHS" or "REDUNDANCY <n>" (got ${JSON.stringify(policy)})`,
      ]);
    },
  );

  it.each(['REDUNDANCY 1', 'REDUNDANCY 12', 'RECOVERY WINDOW OF 1 DAYS', 'RECOVERY WINDOW OF 2 WEEKS', 'RECOVERY WINDOW OF 3 MONTHS'])(
    'good retention policy %j',
    (policy) => {
      expect(resolveConfig(localRaw({ barman: { retentionPolicy: policy } })).config.barman.retentionPolicy).toBe(policy);
    },
  );

  it.each([
    ['postgres', 'dataDir'],
    ['postgres', 'binDir'],
    ['postgres', 'socketDir'],
    ['repmgr', 'configDir'],
    ['barman', 'backupDir'],
    ['barman', 'configDir'],
  ])('relative path in %s.%s', (section, key) => {
    expect(problems(localRaw({ [section]: { [key]: 'relative/dir' } }))).toEqual([`${section}.${key}: must be an absolute path (got "relative/dir")`]);
  });

  it('relative stateDir', () => {
    expect(problems(localRaw({ stateDir: './state' }))).toEqual(['stateDir: must be an absolute path (got "./state")']);
  });

  it('a raw value that is not a mapping', () => {
    expect(problems(5)).toContain('(top level): must be a mapping of keys to values (got 5)');
    expect(problems(['a'])).toContain('(top level): must be a mapping of keys to values (got ["a"])');
  });

  it('reports every problem at once, and ConfigError.message lists them indented', () => {
    const raw = localRaw({ foo: true, postgres: { port: 0, dataDir: 'data' }, barman: { retentionPolicy: 'X' } });
    let error: unknown;
    try {
      resolveConfig(raw, { PGHA_BAR: '1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect(e.problems).toHaveLength(5);
    expect(e.problems.some((p) => p.startsWith('PGHA_BAR: '))).toBe(true);
    expect(e.problems.some((p) => p.startsWith('foo: '))).toBe(true);
    expect(e.problems.some((p) => p.startsWith('postgres.port: '))).toBe(true);
    expect(e.problems.some((p) => p.startsWith('postgres.dataDir: '))).toBe(true);
    expect(e.problems.some((p) => p.startsWith('barman.retentionPolicy: '))).toBe(true);
    expect(e.message.split('\n')[0]).toBe('invalid pgha config:');
    for (const p of e.problems) expect(e.message).toContain(`\n  ${p}`);
  });

  it('long values are shortened to 80 characters', () => {
    const raw = localRaw({ foo: 'y'.repeat(200) });
    const [line] = problems(raw);
    const got = /\(got (.*)\)$/.exec(line)![1];
    expect(got.length).toBe(80);
    expect(got.endsWith('...')).toBe(true);
  });
});

describe('secrets in messages', () => {
  it('a wrong-typed password is shown as ****', () => {
    const lines = problems(localRaw({ repmgr: { password: 987654 } }));
    expect(lines).toEqual(['repmgr.password: must be string (got ****)']);
    expect(lines.join('\n')).not.toContain('987654');
  });

  it('an empty password from env is shown as ****', () => {
    expect(problems(localRaw(), { PGHA_BARMAN_PASSWORD: '' })).toEqual(['barman.password: must not be empty (got ****)']);
  });

  it('a misspelt password key does not echo its value', () => {
    const lines = problems(localRaw({ repmgr: { pasword: 'TopSecret-1' }, postgres: { rootPasswd: 'TopSecret-2' } }));
    expect(lines).toContain('repmgr.pasword: unknown key, remove it or check its spelling (got ****)');
    expect(lines).toContain('postgres.rootPasswd: unknown key, remove it or check its spelling (got ****)');
    expect(lines.join('\n')).not.toMatch(/TopSecret/);
  });

  it('a misspelt password variable does not echo its value', () => {
    const lines = problems(localRaw(), { PGHA_BARMAN_PASWORD: 'TopSecret-3' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^PGHA_BARMAN_PASWORD: unknown environment variable, .* \(got \*\*\*\*\)$/);
    expect(lines[0]).not.toContain('TopSecret');
  });

  it('maskSecrets replaces the five passwords by **** and leaves the rest (and the input) alone', () => {
    const config = localConfig(CUSTOM_PASSWORDS);
    const before = structuredClone(config);
    const masked = maskSecrets(config);
    expect(masked.postgres.rootPassword).toBe('****');
    expect(masked.repmgr.password).toBe('****');
    expect(masked.repmgr.streamingPassword).toBe('****');
    expect(masked.barman.password).toBe('****');
    expect(masked.barman.streamingPassword).toBe('****');
    const text = JSON.stringify(masked);
    for (const secret of secretsOf(config)) expect(text).not.toContain(secret);
    expect(config).toEqual(before);
    // everything else unchanged
    expect({ ...masked, postgres: { ...masked.postgres, rootPassword: 'x' }, repmgr: { ...masked.repmgr, password: 'x', streamingPassword: 'x' }, barman: { ...masked.barman, password: 'x', streamingPassword: 'x' } }).toEqual({
      ...config,
      postgres: { ...config.postgres, rootPassword: 'x' },
      repmgr: { ...config.repmgr, password: 'x', streamingPassword: 'x' },
      barman: { ...config.barman, password: 'x', streamingPassword: 'x' },
    });
  });

  it('secretsOf returns the five passwords in SECRET_PATHS order', () => {
    expect(secretsOf(localConfig())).toEqual(SEED_VALUES);
    expect(secretsOf(localConfig(CUSTOM_PASSWORDS))).toEqual([
      'root-Pw-1',
      'repmgr-Pw-2',
      'repmgr-stream-Pw-3',
      'barman-Pw-4',
      'barman-stream-Pw-5',
    ]);
  });
});

describe('seed default passwords', () => {
  const hostsNodes = [
    { name: 'db1', host: '10.0.0.1', master: true },
    { name: 'db2', host: '10.0.0.2' },
  ];

  it('outside local mode every seed password is a ConfigError, masked', () => {
    const lines = problemsOf(() => resolveConfig({ nodes: hostsNodes }));
    expect(lines).toHaveLength(5);
    SEED_PATHS.forEach((path, i) => {
      expect(lines[i]).toBe(`${path}: the seed's default password is allowed only with mode: local; set your own (got ****)`);
      expect(lines[i]).toMatch(PROBLEM_LINE);
    });
    for (const seed of SEED_VALUES) expect(lines.join('\n')).not.toContain(seed);
  });

  it('explicit mode: hosts behaves the same', () => {
    expect(problemsOf(() => resolveConfig({ mode: 'hosts', nodes: hostsNodes }))).toHaveLength(5);
  });

  it('outside local mode a single seed password left is the only problem', () => {
    const raw = { nodes: hostsNodes, ...structuredClone(CUSTOM_PASSWORDS), barman: { password: 'barman-Pw-4' } };
    expect(problemsOf(() => resolveConfig(raw))).toEqual([
      "barman.streamingPassword: the seed's default password is allowed only with mode: local; set your own (got ****)",
    ]);
  });

  it('outside local mode custom passwords give a config and no warnings', () => {
    const { config, warnings } = resolveConfig({ nodes: hostsNodes, ...CUSTOM_PASSWORDS });
    expect(config.mode).toBe('hosts');
    expect(warnings).toEqual([]);
    expect(config.repmgr.password).toBe('repmgr-Pw-2');
  });

  it('custom passwords from env clear the error', () => {
    const { warnings } = resolveConfig(
      { nodes: hostsNodes },
      {
        PGHA_POSTGRES_ROOT_PASSWORD: 'a1',
        PGHA_REPMGR_PASSWORD: 'a2',
        PGHA_REPMGR_STREAMING_PASSWORD: 'a3',
        PGHA_BARMAN_PASSWORD: 'a4',
        PGHA_BARMAN_STREAMING_PASSWORD: 'a5',
      },
    );
    expect(warnings).toEqual([]);
  });

  it('in local mode seed passwords are warnings, one per password, without the password', () => {
    const { config, warnings } = resolveConfig(localRaw());
    expect(config.mode).toBe('local');
    expect(warnings).toEqual(SEED_PATHS.map((p) => `${p}: uses the seed's default password; fine for local mode, never in production`));
    for (const seed of SEED_VALUES) expect(warnings.join('\n')).not.toContain(seed);
  });

  it('in local mode custom passwords give no warnings', () => {
    expect(resolveConfig(localRaw(CUSTOM_PASSWORDS)).warnings).toEqual([]);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-config-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  const VALID = `
cluster: demo
mode: local
postgres:
  port: 5500
  technicalPort: 5501
nodes:
  - { name: node1, host: 127.0.0.11, master: true }
  - name: node2
    host: 127.0.0.12
    priority: 50
`;

  it('reads a valid file', () => {
    const { config, warnings } = loadConfigFile(write('valid.yaml', VALID), {});
    expect(config.cluster).toBe('demo');
    expect(config.postgres.port).toBe(5500);
    expect(config.postgres.technicalPort).toBe(5501);
    expect(config.nodes).toEqual([
      { name: 'node1', host: '127.0.0.11', master: true, priority: 100 },
      { name: 'node2', host: '127.0.0.12', master: false, priority: 50 },
    ]);
    expect(warnings).toHaveLength(5);
  });

  it('applies the env it is given on top of the file', () => {
    const { config } = loadConfigFile(write('valid2.yaml', VALID), { PGHA_POSTGRES_PORT: '5440', PGHA_CONFIG: '/ignored' });
    expect(config.postgres.port).toBe(5440);
  });

  it('invalid YAML names the file', () => {
    const file = write('broken.yaml', 'nodes: [ {name: a\n  : : :\n');
    const lines = problemsOf(() => loadConfigFile(file, {}));
    expect(lines).toHaveLength(1);
    expect(lines[0].startsWith(`${file}: not valid YAML (`)).toBe(true);
    expect(lines[0]).not.toContain('\n');
  });

  it('a missing file names the file and the reason', () => {
    const file = join(dir, 'nope.yaml');
    const lines = problemsOf(() => loadConfigFile(file, {}));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read the config file \\(.*ENOENT`));
  });

  it('an empty file is an empty config (nodes missing)', () => {
    expect(problemsOf(() => loadConfigFile(write('empty.yaml', ''), {}))).toEqual(['nodes: must be array (got nothing)']);
  });

  it('schema problems in the file come out in the usual format', () => {
    const file = write('bad.yaml', VALID.replace('port: 5500', 'port: 99999').replace('mode: local', 'mode: local\nbogus: 1'));
    const lines = problemsOf(() => loadConfigFile(file, {}));
    expect(lines).toContain('postgres.port: must be a TCP port (1-65535) (got 99999)');
    expect(lines).toContain('bogus: unknown key, remove it or check its spelling (got 1)');
  });

  it('a YAML scalar at top level is reported', () => {
    expect(problemsOf(() => loadConfigFile(write('scalar.yaml', 'just text\n'), {}))).toContain(
      '(top level): must be a mapping of keys to values (got "just text")',
    );
  });
});

describe('configSource: the one rule every command, worker and the dashboard find their config by', () => {
  const env = { PGHA_CONFIG: '/etc/pgha/pgha.yaml', PGHA_NODES: '[{name: a, host: h, master: true}]' };
  it('a flag beats a variable: --config, then --dir, then PGHA_CONFIG, then the variables alone, then .pgha', () => {
    expect(configSource({ config: '/x.yaml', dir: '/d' }, env)).toEqual({ kind: 'file', path: '/x.yaml', via: '--config' });
    expect(configSource({ dir: '/d' }, env)).toEqual({ kind: 'file', path: '/d/pgha.yaml', via: '--dir' });
    expect(configSource({}, env)).toEqual({ kind: 'file', path: '/etc/pgha/pgha.yaml', via: 'PGHA_CONFIG' });
    expect(configSource({}, { PGHA_NODES: env.PGHA_NODES })).toEqual({ kind: 'env' });
    // any setting, not only the node list: a container that forgot PGHA_NODES is told so, not sent to a local folder
    expect(configSource({}, { PGHA_CLUSTER: 'pgha', PGHA_MODE: 'hosts' })).toEqual({ kind: 'env' });
    // variables that are not settings do not count
    expect(configSource({}, { PGHA_LOG_LEVEL: 'debug', PGHA_SHUTDOWN_GRACE_MS: '1000' })).toEqual({ kind: 'file', path: '.pgha/pgha.yaml', via: 'default folder' });
    expect(configSource({}, {})).toEqual({ kind: 'file', path: '.pgha/pgha.yaml', via: 'default folder' });
  });
  it('messages name the source', () => {
    expect(describeSource({ kind: 'file', path: '/d/pgha.yaml', via: '--dir' })).toBe('/d/pgha.yaml (--dir)');
    expect(describeSource({ kind: 'env' })).toBe('the PGHA_* environment variables');
  });
  const problemOf = (opts: { config?: string; dir?: string }, e: NodeJS.ProcessEnv = {}) => {
    try {
      loadConfig(opts, e);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    throw new Error('no ConfigError');
  };
  it('a missing file is one problem whose hint fits how it was named, never the thing already done', () => {
    expect(problemOf({ config: '/nope.yaml' })).toEqual(['/nope.yaml: no such file (--config); check the path']);
    expect(problemOf({}, { PGHA_CONFIG: '/nope.yaml' })).toEqual(['/nope.yaml: no such file (named by PGHA_CONFIG); check the variable, or pass --config FILE']);
    expect(problemOf({ dir: '/no dir' })).toEqual([`no local cluster in /no dir (/no dir/pgha.yaml is missing): make one with pgha local up --dir '/no dir', or pass --config FILE`]);
    expect(problemOf({ dir: '/x/.pgha/pgha.yaml' })).toEqual([`/x/.pgha/pgha.yaml: --dir takes the local cluster's folder, not its file (--dir /x/.pgha, or --config /x/.pgha/pgha.yaml)`]);
    // nothing named: no suggestion to make a local cluster on what may be a database host
    const none = problemOf({});
    expect(none).toEqual(['no config found: pass --config FILE or set PGHA_CONFIG (or the PGHA_* variables); for a local cluster, --dir DIR (there is none in .pgha here)']);
    expect(none[0]).not.toContain('local up');
  });
  it('the variables alone (a container): their values, and the source says so; a missing setting is named', () => {
    const vars = { PGHA_MODE: 'local', PGHA_NODES: '[{name: a, host: 127.0.0.11, master: true}]', PGHA_POSTGRES_PORT: '5433' };
    const alone = loadConfig({}, vars);
    expect(alone.source).toEqual({ kind: 'env' });
    expect(alone.config.postgres.port).toBe(5433);
    expect(problemOf({}, { PGHA_MODE: 'local' })).toContain('nodes: must be array (got nothing)');
  });
});
