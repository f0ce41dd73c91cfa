import { describe, expect, it } from '@jest/globals';
import { lastWalTime, planRestore, recoverTargetArgs } from '../../src/barman/restore.js';
import { parseTarget } from '../../src/scenarios.js';

const backups = [
  { id: '20261126T100000', status: 'DONE', endTime: '2026-11-26T10:00:05.000Z' },
  { id: '20261126T110000', status: 'FAILED', endTime: null },
  { id: '20261126T120000', status: 'DONE', endTime: '2026-11-26T12:00:05.000Z' },
];
const base = { backups, lastWalTime: '2026-11-26T13:00:00.000Z' };

describe('planRestore', () => {
  it('latest is the newest DONE backup; a named one must be DONE', () => {
    expect(planRestore({ ...base, backupId: 'latest', target: { kind: 'latest' } })).toEqual({ ok: true, backupId: '20261126T120000' });
    expect(planRestore({ ...base, backupId: '20261126T100000', target: { kind: 'immediate' } })).toEqual({ ok: true, backupId: '20261126T100000' });
    const failed = planRestore({ ...base, backupId: '20261126T110000', target: { kind: 'latest' } });
    expect(failed).toEqual({ ok: false, problem: '--backup 20261126T110000: no DONE backup with that id; DONE backups: 20261126T100000, 20261126T120000' });
  });

  it('no DONE backup at all: take one first', () => {
    expect(planRestore({ backups: [], lastWalTime: null, backupId: 'latest', target: { kind: 'latest' } })).toEqual({ ok: false, problem: 'barman holds no DONE backup: take one first (pgha backup)' });
  });

  it('a target time must lie between the backup\'s end and the last archived WAL, and the message gives that range', () => {
    const plan = (time: string, backupId = 'latest') => planRestore({ ...base, backupId, target: { kind: 'time', time } });
    expect(plan('2026-11-26T12:30:00Z')).toEqual({ ok: true, backupId: '20261126T120000' });
    expect(plan('2026-11-26T12:00:05Z')).toEqual({ ok: true, backupId: '20261126T120000' });
    expect(plan('2026-11-26T13:00:00Z')).toEqual({ ok: true, backupId: '20261126T120000' });
    expect(plan('2026-11-26T11:00:00Z')).toEqual({
      ok: false,
      problem: '--target-time 2026-11-26T11:00:00Z is before the end of backup 20261126T120000; valid range for backup 20261126T120000: 2026-11-26T12:00:05.000Z to 2026-11-26T13:00:00.000Z',
    });
    expect(plan('2026-11-26T11:00:00Z', '20261126T100000')).toEqual({ ok: true, backupId: '20261126T100000' });
    expect(plan('2026-11-26T13:00:01Z')).toMatchObject({ ok: false, problem: expect.stringContaining('is after the last archived WAL; valid range for backup 20261126T120000') });
    expect(plan('yesterday')).toMatchObject({ ok: false, problem: expect.stringContaining('not an ISO 8601 time') });
    expect(planRestore({ ...base, lastWalTime: null, backupId: 'latest', target: { kind: 'time', time: '2026-11-26T12:30:00Z' } })).toMatchObject({ ok: false });
  });

  it('a target LSN must look like one', () => {
    expect(planRestore({ ...base, backupId: 'latest', target: { kind: 'lsn', lsn: '0/5000028' } })).toMatchObject({ ok: true });
    expect(planRestore({ ...base, backupId: 'latest', target: { kind: 'lsn', lsn: '5000028' } })).toMatchObject({ ok: false, problem: expect.stringContaining('not an LSN') });
  });
});

describe('recoverTargetArgs', () => {
  it('maps each target to barman recover options, promoting at the target', () => {
    expect(recoverTargetArgs({ kind: 'latest' })).toEqual([]);
    expect(recoverTargetArgs({ kind: 'immediate' })).toEqual(['--target-immediate', '--target-action', 'promote']);
    expect(recoverTargetArgs({ kind: 'lsn', lsn: '0/5000028' })).toEqual(['--target-lsn', '0/5000028', '--target-action', 'promote']);
    // PostgreSQL rejects ISO's T…Z in recovery_target_time
    expect(recoverTargetArgs({ kind: 'time', time: '2026-11-26T14:11:42.976Z' })).toEqual(['--target-time', '2026-11-26 14:11:42.976+00', '--target-action', 'promote']);
    expect(recoverTargetArgs({ kind: 'time', time: '2026-11-26T15:11:42+01:00' })).toEqual(['--target-time', '2026-11-26 14:11:42.000+00', '--target-action', 'promote']);
  });
});

describe('lastWalTime', () => {
  it('is the newest archive time in xlog.db, ignoring history files', () => {
    const db = ['000000010000000000000003\t16777216\t1795700000.5\tgzip', '00000002.history\t42\t1795800000\tNone', '000000010000000000000004\t16777216\t1795700100.25\tgzip', ''].join('\n');
    expect(lastWalTime(db)).toBe(new Date(1795700100250).toISOString());
    expect(lastWalTime('')).toBeNull();
  });
});

describe('parseTarget', () => {
  it('one target at most; immediate is the only named one', () => {
    expect(parseTarget({})).toEqual({ kind: 'latest' });
    expect(parseTarget({ target: 'immediate' })).toEqual({ kind: 'immediate' });
    expect(parseTarget({ targetTime: '2026-11-26T12:00:00Z' })).toEqual({ kind: 'time', time: '2026-11-26T12:00:00Z' });
    expect(parseTarget({ targetLsn: '0/1' })).toEqual({ kind: 'lsn', lsn: '0/1' });
    expect(parseTarget({ target: 'latest' })).toEqual({ path: 'params.target', message: 'the only named target is "immediate" (got latest)' });
    expect(parseTarget({ target: 'immediate', targetLsn: '0/1' })).toEqual({
      path: 'params.target',
      message: 'give one of targetTime (--target-time), targetLsn (--target-lsn), target "immediate" (--target immediate)',
    });
  });
});

describe('restoreDestination', () => {
  it('beside barman\'s data when barman shares the node\'s host (local mode), else over SSH as postgres next to the data directory', async () => {
    const { restoreDestination } = await import('../../src/barman/restore.js');
    const { resolveConfig } = await import('../../src/config/load.js');
    const pw = { password: 'a-long-secret-1', streamingPassword: 'a-long-secret-2' };
    const hosts = resolveConfig({
      postgres: { rootPassword: 'a-long-secret-0' },
      repmgr: pw,
      barman: { ...pw, host: 'backup1' },
      nodes: [
        { name: 'pg1', host: 'db1', master: true },
        { name: 'pg2', host: 'backup1' },
      ],
    }).config;
    expect(restoreDestination(hosts, hosts.nodes[0], 'f1')).toEqual({ path: '/var/lib/postgresql/pg1.restore-f1', sshCommand: 'ssh -o BatchMode=yes postgres@db1' });
    expect(restoreDestination(hosts, hosts.nodes[1], 'f1')).toEqual({ path: '/home/barman/data/restore/f1', sshCommand: null });
    const local = resolveConfig({ mode: 'local', nodes: [{ name: 'n1', host: '127.0.0.11', master: true }] }).config;
    expect(restoreDestination(local, local.nodes[0], 'f2')).toEqual({ path: '/home/barman/data/restore/f2', sshCommand: null });
  });
});
