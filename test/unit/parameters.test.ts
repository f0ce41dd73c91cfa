// postgres.parameters (src/postgres/parameters.ts): what pgha owns, PostgreSQL's catalogue checks
// with units, what an apply changes and the order it rolls out in.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { checkParameters, NOT_LOWER_ON_STANDBY, ownedParameterProblem, parameterChanges, PGHA_OWNED, readSetting, renderParametersConf, pendingRestartOf, restartNeededFor, rollOut, RECOVERY_TARGET_SETTINGS, type SettingInfo } from '../../src/postgres/parameters.js';
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import { renderPostgresConf } from '../../src/postgres/render.js';
import { buildApplyParametersFlow } from '../../src/flows/operations.js';
import { flowSteps } from '../../src/flows/chain.js';
import { localConfig } from './helpers.js';

// as PostgreSQL 15's pg_settings has them
const info = (name: string, vartype: SettingInfo['vartype'], context: string, setting: string, o: Partial<SettingInfo> = {}): SettingInfo => ({ name, vartype, unit: null, min: null, max: null, enumvals: null, context, setting, bootVal: setting, ...o });
const CATALOGUE = new Map(
  [
    info('shared_buffers', 'integer', 'postmaster', '16384', { unit: '8kB', min: 16, max: 1073741823, bootVal: '1024' }),
    info('work_mem', 'integer', 'user', '4096', { unit: 'kB', min: 64, max: 2147483647 }),
    info('max_connections', 'integer', 'postmaster', '100', { min: 1, max: 262143 }),
    info('max_worker_processes', 'integer', 'postmaster', '8', { min: 0, max: 262143 }),
    info('log_min_duration_statement', 'integer', 'superuser', '-1', { unit: 'ms', min: -1, max: 2147483647 }),
    info('checkpoint_timeout', 'integer', 'sighup', '300', { unit: 's', min: 30, max: 86400 }),
    info('checkpoint_completion_target', 'real', 'sighup', '0.9', { min: 0, max: 1 }),
    info('log_statement', 'enum', 'superuser', 'none', { enumvals: ['none', 'ddl', 'mod', 'all'] }),
    info('jit', 'bool', 'user', 'on'),
    info('application_name', 'string', 'user', ''),
    info('server_version_num', 'integer', 'internal', '150010', { min: 150010, max: 150010 }),
  ].map((i) => [i.name, i]),
);
const at = (name: string) => CATALOGUE.get(name)!;

describe('parameters pgha owns', () => {
  it('are refused in pgha.yaml with the reason and what to set instead (exit 2 from every command)', () => {
    const raw = localConfig({}) as any;
    raw.postgres = { ...raw.postgres, parameters: { wal_level: 'logical', port: 5433, shared_preload_libraries: 'pg_stat_statements', work_mem: '16MB' } };
    let err: unknown;
    try {
      resolveConfig({}, { PGHA_NODES: stringify(raw.nodes, { flow: true }).trim(), PGHA_POSTGRES_PARAMETERS: stringify(raw.postgres.parameters, { flow: true }).trim(), PGHA_MODE: 'local' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(
      expect.arrayContaining([
        'postgres.parameters.wal_level: pgha sets it to replica: streaming replication, barman and pg_rewind need it; remove it from postgres.parameters (got "logical")',
        'postgres.parameters.port: set postgres.port instead; remove it from postgres.parameters (got 5433)',
        'postgres.parameters.shared_preload_libraries: must include repmgr (repmgrd needs it loaded): e.g. \'repmgr,pg_stat_statements\' (got "pg_stat_statements")',
      ]),
    );
    expect((err as ConfigError).problems.join('\n')).not.toContain('work_mem');
  });

  it('every owned name, any value; synchronous_commit off only without quorum; pgha.* reserved; a value on one line', () => {
    for (const name of Object.keys(PGHA_OWNED)) expect(ownedParameterProblem(name, 'x', 'quorum')).toMatch(/remove it from postgres.parameters$/);
    expect(ownedParameterProblem('shared_preload_libraries', 'repmgr, pg_stat_statements', 'quorum')).toBeNull();
    expect(ownedParameterProblem('synchronous_commit', 'local', 'quorum')).toMatch(/could lose a commit acknowledged locally/);
    expect(ownedParameterProblem('synchronous_commit', 'remote_apply', 'quorum')).toBeNull();
    expect(ownedParameterProblem('synchronous_commit', 'off', 'off')).toBeNull();
    expect(ownedParameterProblem('pgha.reserved_timeline', 5, 'quorum')).toMatch(/pgha's own/);
    expect(ownedParameterProblem('application_name', 'a\nb', 'quorum')).toBe('a value on one line');
    expect(ownedParameterProblem('work_mem', '16MB', 'quorum')).toBeNull();
    // settings that lose acknowledged commits or break pg_rewind, whatever their spelling of off
    expect(ownedParameterProblem('fsync', 'OFF', 'off')).toMatch(/loses acknowledged commits/);
    expect(ownedParameterProblem('fsync', false, 'off')).toMatch(/loses acknowledged commits/);
    expect(ownedParameterProblem('fsync', 'on', 'off')).toBeNull();
    expect(ownedParameterProblem('full_page_writes', 0, 'quorum')).toMatch(/breaks pg_rewind/);
    expect(ownedParameterProblem('recovery_end_command', 'rm -rf /', 'quorum')).toMatch(/remove it from postgres.parameters$/);
  });
});

describe('readSetting / checkParameters: as PostgreSQL reads a value', () => {
  it('memory and time units convert to the parameter\'s own unit, rounded as PostgreSQL does', () => {
    expect(readSetting('256MB', at('shared_buffers'))).toEqual({ ok: true, value: 32768 });
    expect(readSetting('1GB', at('shared_buffers'))).toEqual({ ok: true, value: 131072 });
    expect(readSetting(2048, at('shared_buffers'))).toEqual({ ok: true, value: 2048 });
    expect(readSetting('16MB', at('work_mem'))).toEqual({ ok: true, value: 16384 });
    expect(readSetting('5min', at('checkpoint_timeout'))).toEqual({ ok: true, value: 300 });
    expect(readSetting('250ms', at('log_min_duration_statement'))).toEqual({ ok: true, value: 250 });
    // halves round to even, as PostgreSQL's rint: 12kB is 1.5 × 8kB → 2; 4kB is 0.5 × 8kB → 0 (below the minimum)
    expect(readSetting('12kB', at('shared_buffers'))).toMatchObject({ ok: false });
    expect(readSetting('1500ms', at('checkpoint_timeout'))).toMatchObject({ ok: false, message: 'below the minimum 30 s' });
    expect(readSetting('30500ms', at('checkpoint_timeout'))).toEqual({ ok: true, value: 30 });
    expect(readSetting('31500ms', at('checkpoint_timeout'))).toEqual({ ok: true, value: 32 });
    expect(readSetting('1s', at('log_min_duration_statement'))).toEqual({ ok: true, value: 1000 });
    expect(readSetting('-1', at('log_min_duration_statement'))).toEqual({ ok: true, value: -1 });
    expect(readSetting('0.5', at('checkpoint_completion_target'))).toEqual({ ok: true, value: 0.5 });
    expect(readSetting('ALL', at('log_statement'))).toEqual({ ok: true, value: 'all' });
    expect(readSetting('off', at('jit'))).toEqual({ ok: true, value: false });
    expect(readSetting(true, at('jit'))).toEqual({ ok: true, value: true });
  });

  it('names the field, says what is wrong and quotes the value: unknown, wrong type, bad unit, out of range, read-only', () => {
    const problems = checkParameters(
      { shared_bufers: '256MB', work_mem: 'lots', shared_buffers: '64kB', max_connections: 1_000_000, checkpoint_timeout: '10MB', jit: 'maybe', log_statement: 'some', server_version_num: 1, checkpoint_completion_target: 2, 'auto_explain.log_min_duration': '1s' },
      CATALOGUE,
    );
    expect(problems).toEqual([
      { path: 'postgres.parameters.shared_bufers', message: 'not a PostgreSQL 15 parameter (got "256MB")' },
      { path: 'postgres.parameters.work_mem', message: 'must be an integer with an optional unit (the default unit is kB) (got "lots")' },
      { path: 'postgres.parameters.shared_buffers', message: 'below the minimum 16 8kB (got "64kB")' },
      { path: 'postgres.parameters.max_connections', message: 'above the maximum 262143 (got 1000000)' },
      { path: 'postgres.parameters.checkpoint_timeout', message: 'unit MB is not valid for this parameter (valid units: us, ms, s, min, h, d) (got "10MB")' },
      { path: 'postgres.parameters.jit', message: 'must be a boolean (on or off) (got "maybe")' },
      { path: 'postgres.parameters.log_statement', message: 'must be one of none, ddl, mod, all (got "some")' },
      { path: 'postgres.parameters.server_version_num', message: 'read-only: PostgreSQL fixes it at initdb or build time (got 1)' },
      { path: 'postgres.parameters.checkpoint_completion_target', message: 'above the maximum 1 (got 2)' },
    ]);
  });

  it('property: a whole number of units in range always passes, and reads back as that many units', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(['kB', 1], ['MB', 1024], ['GB', 1024 * 1024]), (n, [unit, kb]) => {
        const r = readSetting(`${n}${unit}`, at('work_mem'));
        const want = n * (kb as number);
        if (want < 64 || want > 2147483647) expect(r.ok).toBe(false);
        else expect(r).toEqual({ ok: true, value: want });
      }),
    );
  });
});

describe('parameterChanges and rollOut', () => {
  const current = (o: Record<string, Partial<SettingInfo>> = {}) => new Map([...CATALOGUE].map(([k, v]) => [k, { ...v, ...o[k] }]));

  it('a reload parameter alone: reload; values compared as PostgreSQL reads them (16384 × 8kB = 128MB: no change)', () => {
    const ch = parameterChanges({ work_mem: '16MB', shared_buffers: '128MB' }, current());
    expect(ch).toEqual([{ name: 'work_mem', from: '4096 (kB)', to: '16MB', restart: false, direction: null }]);
    expect(rollOut(ch)).toEqual({ ok: true, kind: 'reload', reason: '1 change(s), none needs a restart: a reload on every node' });
  });

  it('a postmaster parameter: standbys first, then the primary through a switchover and back', () => {
    const ch = parameterChanges({ shared_buffers: '256MB' }, current());
    expect(ch).toEqual([{ name: 'shared_buffers', from: '16384 (8kB)', to: '256MB', restart: true, direction: null }]);
    expect(rollOut(ch)).toMatchObject({ ok: true, kind: 'standbys-first', restart: ['shared_buffers'] });
  });

  it('a parameter a standby must not hold below the primary: raised, standbys first; lowered, the primary first; both at once refused', () => {
    expect(rollOut(parameterChanges({ max_connections: 200 }, current()))).toMatchObject({ ok: true, kind: 'standbys-first' });
    expect(rollOut(parameterChanges({ max_connections: 50 }, current()))).toMatchObject({ ok: true, kind: 'primary-first', reason: expect.stringMatching(/^max_connections lowered: the primary restarts first/) });
    expect(rollOut(parameterChanges({ max_connections: 200, max_worker_processes: 4 }, current()))).toEqual({
      ok: false,
      reason: 'max_connections raised and max_worker_processes lowered: a standby may hold neither below the primary, so no order restarts both; apply one direction at a time',
    });
    expect(NOT_LOWER_ON_STANDBY).toContain('max_locks_per_transaction');
  });

  it('a parameter pgha\'s file set and the config no longer names goes back to its default, restart or not as its context says', () => {
    const ch = parameterChanges({}, current({ shared_buffers: { setting: '32768', fromPgha: true }, work_mem: { setting: '16384', fromPgha: true } }));
    expect(ch).toEqual([
      { name: 'shared_buffers', from: '32768 (8kB)', to: null, restart: true, direction: null },
      { name: 'work_mem', from: '16384 (kB)', to: null, restart: false, direction: null },
    ]);
  });
});

describe('the parameters file and the apply flow', () => {
  it('every value quoted as postgresql.conf takes it, sorted; pgha.conf includes the file after its own lines', () => {
    expect(renderParametersConf({ work_mem: ' 16MB ', application_name: "it's", jit: false, max_connections: 200, log_directory: 'C:\\tmp' })).toBe(
      "# Written by pgha (postgres.parameters, applied by pgha config apply): edits here are lost.\napplication_name = 'it''s'\njit = 'false'\nlog_directory = 'C:\\\\tmp'\nmax_connections = '200'\nwork_mem = '16MB'\n",
    );
    const config = localConfig({});
    const conf = renderPostgresConf(config, config.nodes[0]!, { replication: true }).split('\n');
    expect(conf.indexOf("include_if_exists = 'pgha-parameters.conf'")).toBeGreaterThan(conf.indexOf("shared_preload_libraries = 'repmgr'"));
    expect(conf.indexOf("include_if_exists = 'pgha-parameters.conf'")).toBeLessThan(conf.indexOf("include_if_exists = 'pgha-sync.conf'"));
  });

  it('standbys-first: each standby written just before it restarts, in turn, then the primary written and switched over to the first standby and back; step ids unique', () => {
    const config = localConfig({});
    const flow = buildApplyParametersFlow(config, { flowId: 'f', parameters: { shared_buffers: '256MB' }, primary: 'node1', standbys: ['node2', 'node3'], kind: 'standbys-first' });
    const steps = flowSteps(flow.tree).map((s) => `${s.name}@${s.data.node}`);
    // a node's file is never written long before its restart: one that restarts on its own meanwhile keeps the order
    for (const n of ['node2', 'node3']) expect(steps.indexOf(`stop-postgres@${n}`) - steps.indexOf(`write-parameters@${n}`)).toBe(2);
    expect(steps.indexOf('write-parameters@node1')).toBeGreaterThan(steps.indexOf('decide-and-start@node3'));
    expect(steps.indexOf('write-parameters@node1')).toBe(steps.indexOf('promote@node2') - 3);
    const restarts = steps.filter((s) => s.startsWith('decide-and-start'));
    expect(restarts).toEqual(['decide-and-start@node2', 'decide-and-start@node3']);
    const promotes = steps.filter((s) => s.startsWith('promote'));
    expect(promotes).toEqual(['promote@node2', 'promote@node1']);
    expect(steps.indexOf('decide-and-start@node3')).toBeLessThan(steps.indexOf('promote@node2'));
    const ids = flowSteps(flow.tree).map((s) => s.opts!.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    // automatic failover paused only around each restart and each switchover: as many resumes as pauses, each right after its own steps
    const pauses = flowSteps(flow.tree).filter((s) => s.name === 'set-repmgrd-paused').map((s) => s.data.paused);
    expect(pauses).toEqual([true, false, true, false, true, false, true, false]);
  });

  it('primary-first: the primary restarted in place, then the standbys; reload: the writes only', () => {
    const config = localConfig({});
    const first = flowSteps(buildApplyParametersFlow(config, { flowId: 'f', parameters: {}, primary: 'node1', standbys: ['node2', 'node3'], kind: 'primary-first' }).tree);
    expect(first.filter((s) => s.name === 'decide-and-start').map((s) => s.data.node)).toEqual(['node1', 'node2', 'node3']);
    // lowering: no standby's file holds the lower value before the primary runs with it
    expect(first.filter((s) => s.name === 'write-parameters' || s.name === 'decide-and-start').map((s) => `${s.name}@${s.data.node}`)).toEqual([
      'write-parameters@node1', 'decide-and-start@node1', 'write-parameters@node2', 'decide-and-start@node2', 'write-parameters@node3', 'decide-and-start@node3',
    ]);
    expect(first.some((s) => s.name === 'promote')).toBe(false);
    expect(flowSteps(buildApplyParametersFlow(config, { flowId: 'f', parameters: {}, primary: 'node1', standbys: ['node2'], kind: 'reload' }).tree).map((s) => s.name)).toEqual(['write-parameters', 'write-parameters']);
  });
});

describe('restartNeededFor', () => {
  it("a primary's recovery target settings its files no longer set (pgha's reset after a restore) call for no restart; the rest still do", () => {
    expect(restartNeededFor(['recovery_target', 'recovery_target_action', 'shared_buffers'], false, [])).toEqual(['shared_buffers']);
    expect(restartNeededFor([...RECOVERY_TARGET_SETTINGS], false, [])).toEqual([]);
  });

  it('a recovery target setting the files still set stays listed on a primary (a later start as a standby would use it)', () => {
    expect(restartNeededFor(['recovery_target_action', 'recovery_target_lsn'], false, ['recovery_target_lsn'])).toEqual(['recovery_target_lsn']);
  });

  it('a node in recovery keeps every pending name', () => {
    expect(restartNeededFor(['recovery_target', 'shared_buffers'], true, [])).toEqual(['recovery_target', 'shared_buffers']);
  });

  it('drops exactly the recovery target settings absent from the files, on a node out of recovery, and keeps the order', () => {
    const names = fc.constantFrom('shared_buffers', 'max_connections', 'wal_level', ...RECOVERY_TARGET_SETTINGS);
    fc.assert(
      fc.property(fc.uniqueArray(names), fc.uniqueArray(fc.constantFrom(...RECOVERY_TARGET_SETTINGS)), fc.boolean(), (pending, inFiles, inRecovery) => {
        const dropped = (n: string) => !inRecovery && RECOVERY_TARGET_SETTINGS.includes(n) && !inFiles.includes(n);
        expect(restartNeededFor(pending, inRecovery, inFiles)).toEqual(pending.filter((n) => !dropped(n)));
      }),
    );
  });

  it('pendingRestartOf reads a row of PENDING_RESTART_COLUMNS (nulls as empty)', () => {
    expect(pendingRestartOf({ recovery: false, pending_restart: ['recovery_target', 'work_mem'], recovery_targets_in_files: null })).toEqual(['work_mem']);
    expect(pendingRestartOf({ recovery: false, pending_restart: null, recovery_targets_in_files: null })).toEqual([]);
  });
});
