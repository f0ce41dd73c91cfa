import { describe, it, expect } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderBarmanMainConf, renderBarmanServerConf } from '../../src/barman/render.js';
import { backupInfoOf, catalogue, doneBackupIds, waitsForNextWalFile } from '../../src/barman/actions.js';
import { secretsOf } from '../../src/config/load.js';
import { localConfig, CUSTOM_PASSWORDS } from './helpers.js';

/** An ini file as { section: { key: value } }. */
function ini(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith(';') || t.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(t);
    if (s) {
      section = s[1];
      out[section] = {};
      continue;
    }
    const m = /^([a-z_]+)\s*=\s*(.*)$/.exec(t);
    if (!m || !section) throw new Error(`bad ini line: ${line}`);
    out[section][m[1]] = m[2];
  }
  return out;
}

const conninfo = (s: string) => Object.fromEntries(s.split(' ').map((kv) => kv.split('=') as [string, string]));

describe('renderBarmanMainConf', () => {
  it('[barman] with the OS user, configuration_files_directory and barman_home = backupDir', () => {
    const config = localConfig();
    const c = ini(renderBarmanMainConf(config, 'barman'));
    expect(Object.keys(c)).toEqual(['barman']);
    expect(c.barman.barman_user).toBe('barman');
    expect(c.barman.configuration_files_directory).toBe('/etc/barman.d/');
    expect(c.barman.barman_home).toBe('/home/barman/data');
    expect(c.barman.log_file).toBe('/var/lib/pgha/barman/barman.log');
  });

  it('follows the config and the given user', () => {
    const config = localConfig({ barman: { backupDir: '/backups', configDir: '/etc/b.d' }, stateDir: '/srv/pgha' });
    const c = ini(renderBarmanMainConf(config, 'root'));
    expect(c.barman.barman_user).toBe('root');
    expect(c.barman.barman_home).toBe('/backups');
    expect(c.barman.configuration_files_directory).toBe('/etc/b.d');
    expect(c.barman.log_file).toBe('/srv/pgha/barman/barman.log');
  });
});

describe('renderBarmanServerConf', () => {
  const config = localConfig();
  const primary = config.nodes[0];

  it('one section named after the cluster', () => {
    expect(Object.keys(ini(renderBarmanServerConf(config, primary)))).toEqual(['pgha']);
    const demo = localConfig({ cluster: 'demo' });
    expect(Object.keys(ini(renderBarmanServerConf(demo, demo.nodes[0])))).toEqual(['demo']);
  });

  it('conninfo: primary host, consumer port, user barman, passfile, no password', () => {
    const s = ini(renderBarmanServerConf(config, primary)).pgha;
    const ci = conninfo(s.conninfo);
    expect(ci).toMatchObject({ host: '127.0.0.11', port: '5432', user: 'barman', passfile: '/var/lib/pgha/barman/pgpass' });
    expect(ci).not.toHaveProperty('password');
  });

  it('streaming_conninfo: primary host, consumer port, user barman_streaming, passfile, no password', () => {
    const s = ini(renderBarmanServerConf(config, primary)).pgha;
    const ci = conninfo(s.streaming_conninfo);
    expect(ci).toMatchObject({ host: '127.0.0.11', port: '5432', user: 'barman_streaming', passfile: '/var/lib/pgha/barman/pgpass' });
    expect(ci).not.toHaveProperty('password');
  });

  it('targets whichever node is passed as primary, on the consumer port (not the technical one)', () => {
    const c = localConfig({ postgres: { port: 6000, technicalPort: 6001 } });
    const s = ini(renderBarmanServerConf(c, c.nodes[2])).pgha;
    expect(conninfo(s.conninfo)).toMatchObject({ host: '127.0.0.13', port: '6000' });
    expect(conninfo(s.streaming_conninfo)).toMatchObject({ host: '127.0.0.13', port: '6000' });
    expect(s.description).toContain('node3');
  });

  it('streaming backups: backup_method postgres, streaming_archiver on, slot_name', () => {
    const s = ini(renderBarmanServerConf(config, primary)).pgha;
    expect(s.backup_method).toBe('postgres');
    expect(s.streaming_archiver).toBe('on');
    expect(s.slot_name).toBe('barman');
    expect(s.path_prefix).toBe('/usr/lib/postgresql/15/bin');
  });

  it('retention_policy comes from the config', () => {
    expect(ini(renderBarmanServerConf(config, primary)).pgha.retention_policy).toBe('RECOVERY WINDOW OF 5 DAYS');
    const c = localConfig({ barman: { retentionPolicy: 'REDUNDANCY 3' } });
    expect(ini(renderBarmanServerConf(c, c.nodes[0])).pgha.retention_policy).toBe('REDUNDANCY 3');
  });

  it('neither file contains a password', () => {
    for (const cfg of [config, localConfig(CUSTOM_PASSWORDS)]) {
      const text = renderBarmanServerConf(cfg, cfg.nodes[0]) + renderBarmanMainConf(cfg, 'barman');
      for (const secret of secretsOf(cfg)) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/password=/);
    }
  });
});

describe('doneBackupIds', () => {
  it("lists the DONE backups oldest first from backup.info, without running barman; none when the folder is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-unit-barman-'));
    try {
      const config = localConfig({ cluster: 'demo', barman: { backupDir: dir } });
      expect(doneBackupIds(config)).toEqual([]);
      const put = (id: string, status: string) => {
        mkdirSync(join(dir, 'demo', 'base', id), { recursive: true });
        writeFileSync(join(dir, 'demo', 'base', id, 'backup.info'), `backup_id=${id}\nstatus=${status}\nbegin_wal=000000010000000000000002\n`);
      };
      put('20261127T010203', 'DONE');
      put('20261126T010203', 'DONE');
      put('20261127T020000', 'STARTED');
      put('20261127T030000', 'FAILED');
      mkdirSync(join(dir, 'demo', 'base', '20261127T040000')); // no backup.info yet
      expect(doneBackupIds(config)).toEqual(['20261126T010203', '20261127T010203']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('backupInfoOf / catalogue: barman\'s catalogue from backup.info, no barman run', () => {
  // a DONE backup.info as barman 3.4 writes it (trimmed to the fields read)
  const DONE = [
    "backup_label='START WAL LOCATION: 0/4000028 (file 000000010000000000000004)\\n'",
    'begin_time=2026-12-02 06:44:42.893049+00:00',
    'begin_wal=000000010000000000000004',
    'end_time=2026-12-02 06:44:44.565905+00:00',
    'end_wal=000000010000000000000005',
    'error=None',
    'size=30871771',
    'status=DONE',
    'timeline=1',
  ].join('\n');

  it('reads status, times (as ISO, UTC), size in bytes and the WAL range', () => {
    expect(backupInfoOf('20261202T064442', DONE)).toEqual({
      id: '20261202T064442',
      status: 'DONE',
      beginTime: '2026-12-02T06:44:42.893Z',
      endTime: '2026-12-02T06:44:44.565Z',
      sizeBytes: 30871771,
      walBegin: '000000010000000000000004',
      walEnd: '000000010000000000000005',
    });
  });

  it("a backup barman has only started: None and missing fields are null, not 'None' or NaN", () => {
    const started = backupInfoOf('20261202T070000', 'begin_time=2026-12-02 07:00:00.5+00:00\nbegin_wal=000000020000000000000009\nend_time=None\nend_wal=None\nsize=None\nstatus=STARTED\n');
    expect(started).toEqual({ id: '20261202T070000', status: 'STARTED', beginTime: '2026-12-02T07:00:00.500Z', endTime: null, sizeBytes: null, walBegin: '000000020000000000000009', walEnd: null });
    expect(backupInfoOf('x', '').status).toBe('UNKNOWN');
  });

  it('lists every backup with a backup.info, oldest first, WAITING_FOR_WALS included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-unit-barman-'));
    try {
      const config = localConfig({ cluster: 'demo', barman: { backupDir: dir } });
      const put = (id: string, text: string) => {
        mkdirSync(join(dir, 'demo', 'base', id), { recursive: true });
        writeFileSync(join(dir, 'demo', 'base', id, 'backup.info'), text);
      };
      put('20261202T064442', DONE);
      put('20261202T050000', DONE.replace('status=DONE', 'status=WAITING_FOR_WALS'));
      mkdirSync(join(dir, 'demo', 'base', '20261202T080000')); // barman has not written backup.info yet
      expect(catalogue(config).map((b) => [b.id, b.status, b.sizeBytes])).toEqual([
        ['20261202T050000', 'WAITING_FOR_WALS', 30871771],
        ['20261202T064442', 'DONE', 30871771],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('waitsForNextWalFile: when barman keeps a switched WAL file until the primary writes again', () => {
  it('no .partial file after the complete ones: barman keeps the newest complete file, a WAL record is needed', () => {
    expect(waitsForNextWalFile(['00000001000000000000000A', '00000001000000000000000B'])).toBe(true);
    expect(waitsForNextWalFile([])).toBe(true);
  });
  it('pg_receivewal writes a .partial file: barman archives the complete ones by itself', () => {
    expect(waitsForNextWalFile(['00000001000000000000000B', '00000001000000000000000C.partial'])).toBe(false);
    expect(waitsForNextWalFile(['00000002.history', '00000002000000000000000C.partial'])).toBe(false);
  });
});
