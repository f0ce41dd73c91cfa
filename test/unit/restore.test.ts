import { describe, expect, it } from '@jest/globals';
import { lastWalTime, planRestore, recoverArgs, recoverTargetArgs, type RestoreReach } from '../../src/barman/restore.js';
import { parseHistory, parseWalName, recoveryPath, segmentsToReplay, summarizeWalDump } from '../../src/barman/wal.js';
import { parseTarget } from '../../src/scenarios.js';
import { bytesToLsn, lsnToBytes } from '../../src/postgres/lsn.js';
import { localConfig } from './helpers.js';

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
      problem:
        '--target-time 2026-11-26T11:00:00Z is before the end of backup 20261126T120000; valid range for backup 20261126T120000: 2026-11-26T12:00:05.000Z to 2026-11-26T13:00:00.000Z; ' +
        'backup 20261126T100000 (ended 2026-11-26T10:00:05.000Z) may reach it: add --backup 20261126T100000',
    });
    // before every backup: nothing older to offer
    expect(plan('2026-11-26T09:00:00Z')).toMatchObject({ ok: false, problem: expect.stringMatching(/; no older backup ended by then$/) });
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
  it('maps each target to barman recover options, promoting at the target, across the timelines since the backup', () => {
    // without --target-tli barman copies the backup's timeline's WAL only: everything after a later promotion would be lost
    expect(recoverTargetArgs({ kind: 'latest' })).toEqual(['--target-tli', 'latest']);
    expect(recoverTargetArgs({ kind: 'immediate' })).toEqual(['--target-immediate', '--target-action', 'promote']);
    expect(recoverTargetArgs({ kind: 'lsn', lsn: '0/5000028' })).toEqual(['--target-tli', 'latest', '--target-lsn', '0/5000028', '--target-action', 'promote']);
    // PostgreSQL rejects ISO's T…Z in recovery_target_time
    expect(recoverTargetArgs({ kind: 'time', time: '2026-11-26T14:11:42.976Z' })).toEqual(['--target-tli', 'latest', '--target-time', '2026-11-26 14:11:42.976+00', '--target-action', 'promote']);
    expect(recoverTargetArgs({ kind: 'time', time: '2026-11-26T15:11:42+01:00' })).toEqual(['--target-tli', 'latest', '--target-time', '2026-11-26 14:11:42.000+00', '--target-action', 'promote']);
  });
});

describe('recoverArgs', () => {
  it('copies with barman.recoveryJobs parallel workers (2 by default), over ssh only for another host', () => {
    const config = localConfig();
    expect(config.barman.recoveryJobs).toBe(2);
    expect(recoverArgs(config, { server: 'pgha', backupId: '20261202T064457', target: { kind: 'immediate' }, destination: '/d' })).toEqual([
      'recover', '--jobs', '2', '--target-immediate', '--target-action', 'promote', 'pgha', '20261202T064457', '/d',
    ]);
    const four = localConfig({ barman: { recoveryJobs: 4 } });
    expect(recoverArgs(four, { server: 'pgha', backupId: 'b', target: { kind: 'latest' }, destination: '/d', sshCommand: 'ssh -p 2222' })).toEqual([
      'recover', '--jobs', '4', '--remote-ssh-command', 'ssh -p 2222', '--target-tli', 'latest', 'pgha', 'b', '/d',
    ]);
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
    // the form is refused before any backup is looked at
    expect(parseTarget({ targetTime: 'notadate' })).toEqual({ path: 'params.targetTime', message: '--target-time notadate: not an ISO 8601 time (like 2026-11-26T13:05:00Z)' });
    expect(parseTarget({ targetLsn: '5000028' })).toEqual({ path: 'params.targetLsn', message: '--target-lsn 5000028: not an LSN (like 0/5000028)' });
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

describe('what a restore can reach (failing input 5: a target time past the last transaction)', () => {
  const reach: RestoreReach = { backupId: '20261126T120000', timeline: 3, lastXactTime: '2026-11-26T12:40:00.000Z', endLsn: '0/9000100', backupEndLsn: '0/7000100' };
  const plan = (target: Parameters<typeof planRestore>[0]['target'], r: RestoreReach | null = reach) => planRestore({ ...base, backupId: 'latest', target, reach: r });

  it('a time target is checked against the last transaction the backup replays, not the newest archive time', () => {
    // base's lastWalTime is 13:00; the last transaction 12:40: 12:50 passed the old check and failed in PostgreSQL
    expect(plan({ kind: 'time', time: '2026-11-26T12:40:00Z' })).toMatchObject({ ok: true });
    const late = plan({ kind: 'time', time: '2026-11-26T12:50:00Z' });
    expect(late).toMatchObject({ ok: false });
    expect((late as { problem: string }).problem).toBe(
      '--target-time 2026-11-26T12:50:00Z is after the last transaction recovery from that backup can replay; valid range for backup 20261126T120000: 2026-11-26T12:00:05.000Z to 2026-11-26T12:40:00.000Z (its last transaction in barman\'s WAL, timeline 3)',
    );
    expect(plan({ kind: 'time', time: '2026-11-26T12:50:00Z' }, null)).toMatchObject({ ok: true });
  });

  it('no transaction after the backup: no time target can be reached; immediate and latest still can', () => {
    const none = { ...reach, lastXactTime: null };
    expect(plan({ kind: 'time', time: '2026-11-26T12:20:00Z' }, none)).toMatchObject({ ok: false, problem: expect.stringContaining('--target immediate, or with no target') });
    expect(plan({ kind: 'immediate' }, none)).toMatchObject({ ok: true });
    expect(plan({ kind: 'latest' }, none)).toMatchObject({ ok: true });
  });

  it("an LSN target lies between the backup's consistent point and the end of the WAL it replays", () => {
    expect(plan({ kind: 'lsn', lsn: '0/8000000' })).toMatchObject({ ok: true });
    expect(plan({ kind: 'lsn', lsn: '0/6000000' })).toMatchObject({ ok: false, problem: expect.stringContaining('before backup 20261126T120000 is consistent; valid range for backup 20261126T120000: 0/7000100 to 0/9000100') });
    expect(plan({ kind: 'lsn', lsn: '0/A000000' })).toMatchObject({ ok: false, problem: expect.stringContaining('after the end of the WAL') });
  });

  it('both ends of the LSN range in one form, as PostgreSQL prints an LSN (pg_waldump pads its LSNs, backup.info does not)', () => {
    const padded = { ...reach, backupEndLsn: '0/7000100', endLsn: '0/0C000100' };
    expect(plan({ kind: 'lsn', lsn: '0/D000000' }, padded)).toMatchObject({ ok: false, problem: expect.stringContaining('valid range for backup 20261126T120000: 0/7000100 to 0/C000100') });
    expect([bytesToLsn(0n), bytesToLsn(0x16b374d848n), bytesToLsn(lsnToBytes('0/0C000100')!)]).toEqual(['0/0', '16/B374D848', '0/C000100']);
  });

  it('a backup no recovery can restore is refused whatever the target; a reach of another backup is ignored', () => {
    const broken = { backupId: '20261126T120000', problem: 'timeline 4 did not branch from 3' };
    expect(plan({ kind: 'latest' }, broken)).toEqual({ ok: false, problem: 'backup 20261126T120000 cannot be restored: timeline 4 did not branch from 3' });
    expect(plan({ kind: 'latest' }, { ...broken, backupId: '20261126T100000' })).toMatchObject({ ok: true });
  });
});

describe('WAL a recovery replays (pure)', () => {
  const MB16 = 16n * 1024n * 1024n;
  it('segment names and history files', () => {
    expect(parseWalName('00000003000000010000002A')).toEqual({ name: '00000003000000010000002A', timeline: 3, segNo: 256 + 42 });
    expect(parseWalName('00000003.history')).toBeNull();
    expect(parseHistory('1\t0/5000060\tno recovery target specified\n\n2\t0/90000A0\tno recovery target specified\n')).toEqual([
      { timeline: 1, switchLsn: 0x5000060n },
      { timeline: 2, switchLsn: 0x90000a0n },
    ]);
  });

  it("recovery follows the newest timeline found by probing upward, and only if it branched from the backup's timeline after the backup", () => {
    const histories = new Map([
      [2, '1\t0/5000060\tx\n'],
      [3, '1\t0/5000060\tx\n2\t0/90000A0\tx\n'],
    ]);
    // a backup on timeline 1 at 0/3000028: 1 → 2 (from segment 5) → 3 (from segment 9)
    expect(recoveryPath(1, 0x3000028n, histories)).toEqual({ timeline: 3, timelines: [{ timeline: 1, fromSeg: 3 }, { timeline: 2, fromSeg: 5 }, { timeline: 3, fromSeg: 9 }] });
    // a backup on timeline 1 taken after timeline 2 branched off it: PostgreSQL refuses to follow
    expect(recoveryPath(1, 6n * MB16, histories)).toMatchObject({ problem: expect.stringContaining('timeline 3, the newest in barman\'s archive, did not branch from the backup\'s timeline 1') });
    // no newer timeline
    expect(recoveryPath(3, 10n * MB16, histories)).toEqual({ timeline: 3, timelines: [{ timeline: 3, fromSeg: 10 }] });
    // probing stops at the first missing history file
    expect(recoveryPath(1, 0x3000028n, new Map([[3, 'x']]))).toEqual({ timeline: 1, timelines: [{ timeline: 1, fromSeg: 3 }] });
  });

  it('segments: the newest timeline of the path that has each one, up to the first gap', () => {
    const name = (tl: number, seg: number) => `${tl.toString(16).toUpperCase().padStart(8, '0')}00000000${seg.toString(16).toUpperCase().padStart(8, '0')}`;
    const path = { timeline: 2, timelines: [{ timeline: 1, fromSeg: 3 }, { timeline: 2, fromSeg: 5 }] };
    const files = [name(1, 3), name(1, 4), name(1, 5), name(2, 5), name(2, 6), name(1, 6), name(2, 8)];
    // 1's segment 5 is the old primary's partial copy: the new timeline's file is read; 7 is missing: recovery ends at 6
    expect(segmentsToReplay(files, path).map((s) => s.name)).toEqual([name(1, 3), name(1, 4), name(2, 5), name(2, 6)]);
    expect(segmentsToReplay([name(1, 4)], path)).toEqual([]);
  });

  it("pg_waldump's output: the last commit or abort time (UTC) and the last record's LSN", () => {
    const out = [
      'rmgr: Heap        len (rec/tot):     59/    59, tx:        747, lsn: 0/0C000060, prev 0/0C000028, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16384 blk 0',
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        747, lsn: 0/0C0000A0, prev 0/0C000060, desc: COMMIT 2026-12-01 11:02:05.123456 UTC',
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        748, lsn: 0/0C0000D0, prev 0/0C0000A0, desc: ABORT 2026-12-01 11:02:06.5 UTC',
      'rmgr: Standby     len (rec/tot):     50/    50, tx:          0, lsn: 0/0C000100, prev 0/0C0000D0, desc: RUNNING_XACTS nextXid 749',
      'pg_waldump: error: error in WAL record at 0/C000100: invalid record length at 0/C000138: wanted 24, got 0',
    ].join('\n');
    expect(summarizeWalDump(out)).toEqual({ lastXactTime: '2026-12-01T11:02:06.500Z', lastLsn: '0/0C000100' });
    expect(summarizeWalDump('')).toEqual({ lastXactTime: null, lastLsn: null });
  });
});
