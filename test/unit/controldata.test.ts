import { describe, it, expect } from '@jest/globals';
import { CLEAN_STATES, newestSegmentTimeline, parseControlData, readControlData } from '../../src/postgres/controldata.js';
import type { NodeContext } from '../../src/postgres/actions.js';
import type { Runner } from '../../src/exec/runner.js';
import { localConfig } from './helpers.js';

/** pg_controldata of a PostgreSQL 15 primary (LC_ALL=C), as it prints it. */
const PG15_IN_PRODUCTION = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7321593856264049183
Database cluster state:               in production
pg_control last modified:             Tue 14 Jan 2025 09:41:27 AM UTC
Latest checkpoint location:           0/5000060
Latest checkpoint's REDO location:    0/5000028
Latest checkpoint's REDO WAL file:    000000030000000000000005
Latest checkpoint's TimeLineID:       3
Latest checkpoint's PrevTimeLineID:   2
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:741
Latest checkpoint's NextOID:          16389
Latest checkpoint's NextMultiXactId:  1
Latest checkpoint's NextMultiOffset:  0
Latest checkpoint's oldestXID:        716
Latest checkpoint's oldestXID's DB:   1
Latest checkpoint's oldestActiveXID:  741
Latest checkpoint's oldestMultiXid:   1
Latest checkpoint's oldestMulti's DB: 1
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Tue 14 Jan 2025 09:41:27 AM UTC
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
Backup end location:                  0/0
End-of-backup record required:        no
wal_level setting:                    replica
wal_log_hints setting:                on
max_connections setting:              100
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
Maximum data alignment:               8
Database block size:                  8192
Blocks per segment of large relation: 131072
WAL block size:                       8192
Bytes per WAL segment:                16777216
Maximum length of identifiers:        64
Maximum columns in an index:          32
Maximum size of a TOAST chunk:        1996
Size of a large-object chunk:         2048
Date/time type storage:               64-bit integers
Float8 argument passing:              by value
Data page checksum version:           1
Mock authentication nonce:            5d0c1a7e3f9b2c4d6e8f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d
`;

const withoutLine = (text: string, prefix: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith(prefix))
    .join('\n');

describe('parseControlData', () => {
  it('reads state, timeline, checkpoint location and system identifier of a PG 15 primary', () => {
    expect(parseControlData(PG15_IN_PRODUCTION)).toEqual({
      state: 'in production',
      timeline: 3,
      checkpointLsn: '0/5000060',
      systemIdentifier: '7321593856264049183',
    });
  });

  it('the timeline is a number, the TimeLineID and not the PrevTimeLineID', () => {
    const cd = parseControlData(PG15_IN_PRODUCTION);
    expect(typeof cd.timeline).toBe('number');
    expect(cd.timeline).not.toBe(2);
  });

  it('the checkpoint location is not the REDO location', () => {
    expect(parseControlData(PG15_IN_PRODUCTION).checkpointLsn).not.toBe('0/5000028');
  });

  it('the system identifier stays a string (it exceeds Number.MAX_SAFE_INTEGER)', () => {
    const id = parseControlData(PG15_IN_PRODUCTION).systemIdentifier;
    expect(typeof id).toBe('string');
    expect(BigInt(id)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    expect(id).toBe('7321593856264049183');
  });

  it('reads a stopped standby ("shut down in recovery") on another timeline', () => {
    const text = PG15_IN_PRODUCTION.replace('in production', 'shut down in recovery')
      .replace("TimeLineID:       3", "TimeLineID:       12")
      .replace('0/5000060', '1A/FF0000D8');
    const cd = parseControlData(text);
    expect(cd.state).toBe('shut down in recovery');
    expect(cd.timeline).toBe(12);
    expect(cd.checkpointLsn).toBe('1A/FF0000D8');
  });

  it('the order of the lines does not matter', () => {
    const reversed = PG15_IN_PRODUCTION.trimEnd().split('\n').reverse().join('\n');
    expect(parseControlData(reversed)).toEqual(parseControlData(PG15_IN_PRODUCTION));
  });

  it.each([
    ['Database cluster state'],
    ["Latest checkpoint's TimeLineID"],
    ['Latest checkpoint location'],
    ['Database system identifier'],
  ])('a missing "%s" line throws naming it', (label) => {
    expect(() => parseControlData(withoutLine(PG15_IN_PRODUCTION, label))).toThrow(`pg_controldata output has no "${label}" line`);
  });

  it('empty output throws (the first field it looks for)', () => {
    expect(() => parseControlData('')).toThrow(/^pg_controldata output has no "Database cluster state" line$/);
  });
});

describe('CLEAN_STATES', () => {
  it('is exactly the two clean shutdown states', () => {
    expect([...CLEAN_STATES].sort()).toEqual(['shut down', 'shut down in recovery']);
  });

  it('a crashed or running cluster is not clean', () => {
    for (const s of ['in production', 'in crash recovery', 'in archive recovery', 'shutting down']) expect(CLEAN_STATES).not.toContain(s);
  });

  it('the parsed states of a stopped primary and standby are clean', () => {
    for (const s of ['shut down', 'shut down in recovery']) {
      expect(CLEAN_STATES).toContain(parseControlData(PG15_IN_PRODUCTION.replace('in production', s)).state);
    }
    expect(CLEAN_STATES).not.toContain(parseControlData(PG15_IN_PRODUCTION).state);
  });
});

describe('readControlData', () => {
  it('runs pg_controldata -D <dataDir> as the postgres user in the C locale and parses its output', async () => {
    const config = localConfig();
    const calls: { cmd: string; args: string[]; opts: Record<string, unknown> }[] = [];
    const run = {
      async run(cmd: string, args: string[], opts: Record<string, unknown> = {}) {
        calls.push({ cmd, args, opts });
        return { stdout: PG15_IN_PRODUCTION, stderr: '', exitCode: 0 };
      },
    } as unknown as Runner;
    const ctx: NodeContext = { config, node: config.nodes[1], run, log: () => {} };
    const cd = await readControlData(ctx);
    expect(cd).toEqual(parseControlData(PG15_IN_PRODUCTION));
    expect(calls).toHaveLength(1);
    expect(calls[0].cmd).toBe('/usr/lib/postgresql/15/bin/pg_controldata');
    expect(calls[0].args).toEqual(['-D', '/var/lib/postgresql/node2']);
    expect(calls[0].opts).toMatchObject({ user: 'postgres', env: { LC_ALL: 'C' } });
  });
});

describe('parseControlData refuses what the restart decision cannot compare', () => {
  it('throws on a timeline that is not a positive whole number', async () => {
    const { parseControlData } = await import('../../src/postgres/controldata.js');
    const text = [
      'Database system identifier:           7301234567890123456',
      'Database cluster state:               in production',
      'Latest checkpoint location:           0/5000060',
      "Latest checkpoint's TimeLineID:       x",
    ].join('\n');
    expect(() => parseControlData(text)).toThrow(/invalid timeline \(x\)/);
    expect(() => parseControlData(text.replace('TimeLineID:       x', 'TimeLineID:       0'))).toThrow(/invalid timeline/);
  });
});

describe('newestSegmentTimeline: the newest timeline a pg_wal holds segments of', () => {
  it('a node promoted to timeline 3 and killed before its first checkpoint there: its segments say 3 (pg_control still says the old one); history files, .partial and other files', () => {
    expect(newestSegmentTimeline(['000000010000000000000009', '00000002.history', '000000020000000000000009', '00000003.history', '00000003000000000000000A', 'archive_status'])).toBe(3);
    expect(newestSegmentTimeline(['00000002000000000000000D.partial', '00000001000000000000000D'])).toBe(2);
    // a reservation's placeholder history file is no WAL of that timeline
    expect(newestSegmentTimeline(['000000010000000000000001', '00000005.history'])).toBe(1);
    expect(newestSegmentTimeline(['archive_status'])).toBeNull();
    expect(newestSegmentTimeline(['0000000A0000000000000001'])).toBe(10);
  });
});
