import { describe, it, expect } from '@jest/globals';
import { INCLUDE_LINE, PGHA_CONF, hbaAddress, renderPassfile, renderPgHba, renderPgIdent, renderPostgresConf, withInclude } from '../../src/postgres/render.js';
import { secretsOf } from '../../src/config/load.js';
import { localConfig } from './helpers.js';
import { lastFatalLine } from '../../src/postgres/actions.js';

/** `key = value` settings of a postgresql.conf-style text (comments and blanks skipped). */
function settings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    // includes are files, not settings: checked on their own
    if (!t || t.startsWith('#') || t.startsWith('include_if_exists')) continue;
    const m = /^([a-z_]+)\s*=\s*(.*)$/.exec(t);
    if (!m) throw new Error(`not a setting: ${line}`);
    if (out.has(m[1])) throw new Error(`setting ${m[1]} twice`);
    out.set(m[1], m[2]);
  }
  return out;
}

/** pg_hba lines split into fields (comments dropped). */
function hbaRows(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
}

const REPLICATION_KEYS = [
  'wal_level',
  'wal_log_hints',
  'max_wal_senders',
  'max_replication_slots',
  'hot_standby',
  'shared_preload_libraries',
  'archive_mode',
];

describe('renderPostgresConf', () => {
  const config = localConfig();
  const node2 = config.nodes[1];

  it('minimal file: this node\'s address, consumer port, socket dir, scram; no replication settings', () => {
    const s = settings(renderPostgresConf(config, node2, { replication: false }));
    expect(s.get('listen_addresses')).toBe("'127.0.0.12'");
    expect(s.get('port')).toBe('5432');
    expect(s.get('unix_socket_directories')).toBe("'/var/run/postgresql/node2'");
    expect(s.get('password_encryption')).toBe("'scram-sha-256'");
    for (const key of REPLICATION_KEYS) expect(s.has(key)).toBe(false);
  });

  it('replication file: adds the streaming replication and backup settings', () => {
    const s = settings(renderPostgresConf(config, node2, { replication: true }));
    expect(s.get('listen_addresses')).toBe("'127.0.0.12'");
    expect(s.get('port')).toBe('5432');
    expect(s.get('wal_level')).toBe("'replica'");
    expect(s.get('wal_log_hints')).toBe('on');
    expect(s.get('max_wal_senders')).toBe('10');
    expect(s.get('max_replication_slots')).toBe('10');
    expect(s.get('hot_standby')).toBe('on');
    expect(s.get('shared_preload_libraries')).toBe("'repmgr'");
    expect(s.get('archive_mode')).toBe('on');
  });

  it('the replication file is the minimal file plus lines; both include the parameters file after pgha\'s lines, the replication one the quorum file last', () => {
    const minimal = renderPostgresConf(config, node2, { replication: false }).trimEnd().split('\n');
    const full = renderPostgresConf(config, node2, { replication: true }).trimEnd().split('\n');
    expect(minimal.at(-1)).toBe("include_if_exists = 'pgha-parameters.conf'");
    expect(full.slice(-2)).toEqual(["include_if_exists = 'pgha-parameters.conf'", "include_if_exists = 'pgha-sync.conf'"]);
    expect(full.slice(0, minimal.length - 1)).toEqual(minimal.slice(0, -1));
    expect(full.length).toBeGreaterThan(minimal.length);
  });

  it('follows the config: consumer port (never the technical one), wal senders, slots, socket dir', () => {
    const c = localConfig({ postgres: { port: 6000, technicalPort: 6001, maxWalSenders: 12, maxReplicationSlots: 7, socketDir: '/run/pg' } });
    for (const replication of [false, true]) {
      const s = settings(renderPostgresConf(c, c.nodes[0], { replication }));
      expect(s.get('port')).toBe('6000');
      expect(s.get('listen_addresses')).toBe("'127.0.0.11'");
      expect(s.get('unix_socket_directories')).toBe("'/run/pg/node1'");
    }
    const s = settings(renderPostgresConf(c, c.nodes[0], { replication: true }));
    expect(s.get('max_wal_senders')).toBe('12');
    expect(s.get('max_replication_slots')).toBe('7');
  });

  it('each node gets its own socket directory and address', () => {
    const rendered = config.nodes.map((n) => settings(renderPostgresConf(config, n, { replication: true })));
    expect(rendered.map((s) => s.get('unix_socket_directories'))).toEqual([
      "'/var/run/postgresql/node1'",
      "'/var/run/postgresql/node2'",
      "'/var/run/postgresql/node3'",
    ]);
    expect(rendered.map((s) => s.get('listen_addresses'))).toEqual(["'127.0.0.11'", "'127.0.0.12'", "'127.0.0.13'"]);
  });

  it('ends with a newline and contains no password', () => {
    const text = renderPostgresConf(config, node2, { replication: true });
    expect(text.endsWith('\n')).toBe(true);
    for (const secret of secretsOf(config)) expect(text).not.toContain(secret);
  });
});

describe('hbaAddress', () => {
  it.each([
    ['127.0.0.11', '127.0.0.11/32'],
    ['10.1.2.3', '10.1.2.3/32'],
    ['::1', '::1/128'],
    ['fd00::5', 'fd00::5/128'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['fd00::/64', 'fd00::/64'],
    ['db1.example.com', 'db1.example.com'],
    ['localhost', 'localhost'],
  ])('%s -> %s', (input, output) => {
    expect(hbaAddress(input)).toBe(output);
  });
});

describe('renderPgHba', () => {
  const config = localConfig();
  const rows = hbaRows(renderPgHba(config));
  const hostRows = rows.filter((r) => r[0] === 'host');
  const localRows = rows.filter((r) => r[0] === 'local');

  it('only local and host lines', () => {
    expect(rows.every((r) => r[0] === 'local' || r[0] === 'host')).toBe(true);
  });

  it('local: peer (map pgha) for the postgres user only, scram for all else', () => {
    expect(localRows[0]).toEqual(['local', 'all', 'postgres', 'peer', 'map=pgha']);
    const peer = rows.filter((r) => r.includes('peer'));
    expect(peer).toEqual([localRows[0]]);
    expect(localRows.slice(1)).toEqual([
      ['local', 'all', 'all', 'scram-sha-256'],
      ['local', 'replication', 'all', 'scram-sha-256'],
    ]);
  });

  it('every host line uses scram-sha-256 (no trust, no md5, no password)', () => {
    expect(hostRows.length).toBeGreaterThan(0);
    for (const r of hostRows) {
      expect(r).toHaveLength(5);
      expect(r[4]).toBe('scram-sha-256');
    }
    expect(renderPgHba(config)).not.toMatch(/\b(trust|md5|password|ident)\b/);
  });

  it('for each cluster host and the barman host: all, repmgr_streaming and barman_streaming replication', () => {
    for (const addr of ['127.0.0.11/32', '127.0.0.12/32', '127.0.0.13/32', '127.0.0.1/32']) {
      const forAddr = hostRows.filter((r) => r[3] === addr).map((r) => `${r[1]} ${r[2]}`);
      expect(forAddr).toEqual(['all all', 'replication repmgr_streaming', 'replication barman_streaming']);
    }
  });

  it('replication is granted only to repmgr_streaming and barman_streaming over the network', () => {
    const users = new Set(hostRows.filter((r) => r[1] === 'replication').map((r) => r[2]));
    expect([...users].sort()).toEqual(['barman_streaming', 'repmgr_streaming']);
  });

  it('keeps host names and CIDRs, turns IPs into /32 or /128, includes allowedNetworks', () => {
    const c = localConfig({
      nodes: [
        { name: 'a', host: 'db-a.internal', master: true },
        { name: 'b', host: '10.0.0.2' },
        { name: 'c', host: 'fd00::3' },
      ],
      barman: { host: 'backup.internal' },
      postgres: { allowedNetworks: ['192.168.0.0/16', '172.16.5.4'] },
    });
    const addrs = [...new Set(hbaRows(renderPgHba(c)).filter((r) => r[0] === 'host').map((r) => r[3]))];
    expect(addrs).toEqual(['db-a.internal', '10.0.0.2/32', 'fd00::3/128', 'backup.internal', '192.168.0.0/16', '172.16.5.4/32']);
  });

  it('no duplicate lines when addresses repeat (node host = barman host = allowed network)', () => {
    const c = localConfig({ barman: { host: '127.0.0.11' }, postgres: { allowedNetworks: ['127.0.0.12', '127.0.0.12/32', '10.0.0.0/8', '10.0.0.0/8'] } });
    const text = renderPgHba(c);
    const lines = text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(new Set(lines).size).toBe(lines.length);
    const addrs = [...new Set(hbaRows(text).filter((r) => r[0] === 'host').map((r) => r[3]))];
    expect(addrs).toEqual(['127.0.0.11/32', '127.0.0.12/32', '127.0.0.13/32', '10.0.0.0/8']);
    expect(hbaRows(text).filter((r) => r[0] === 'host')).toHaveLength(4 * 3);
  });

  it('is deterministic and ends with a newline', () => {
    expect(renderPgHba(config)).toBe(renderPgHba(localConfig()));
    expect(renderPgHba(config).endsWith('\n')).toBe(true);
  });
});

describe('withInclude', () => {
  it('appends the include of pgha.conf at the end', () => {
    const out = withInclude("max_connections = 100\nshared_buffers = '128MB'\n");
    expect(INCLUDE_LINE).toBe(`include_if_exists = '${PGHA_CONF}'`);
    expect(out.startsWith("max_connections = 100\nshared_buffers = '128MB'\n")).toBe(true);
    const lines = out.trimEnd().split('\n');
    expect(lines[lines.length - 1]).toBe("include_if_exists = 'pgha.conf'");
    expect(out.endsWith('\n')).toBe(true);
  });

  it.each(['a = 1\n', 'a = 1', 'a = 1\n\n\n', '', '# only a comment\n'])('is idempotent for %j', (input) => {
    const once = withInclude(input);
    expect(withInclude(once)).toBe(once);
    expect(once.split('\n').filter((l) => l.trim() === INCLUDE_LINE)).toHaveLength(1);
  });

  it('leaves a file that already includes pgha.conf untouched', () => {
    const text = `a = 1\n  ${INCLUDE_LINE}  \nb = 2\n`;
    expect(withInclude(text)).toBe(text);
  });

  it('a commented-out include does not count', () => {
    const out = withInclude(`#${INCLUDE_LINE}\n`);
    expect(out.split('\n').filter((l) => l === INCLUDE_LINE)).toHaveLength(1);
  });
});

describe('renderPassfile', () => {
  it('one line per entry with * for host, port and database', () => {
    expect(
      renderPassfile([
        { user: 'repmgr', password: 'pw1' },
        { user: 'repmgr_streaming', password: 'pw2' },
      ]),
    ).toBe('*:*:*:repmgr:pw1\n*:*:*:repmgr_streaming:pw2\n');
  });

  it("escapes ':' and '\\' in users and passwords", () => {
    expect(renderPassfile([{ user: 'u:x', password: 'a:b\\c' }])).toBe('*:*:*:u\\:x:a\\:b\\\\c\n');
  });

  it('escapes the backslash before the colon (no double escaping of the added backslash)', () => {
    expect(renderPassfile([{ user: 'u', password: '\\:' }])).toBe('*:*:*:u:\\\\\\:\n');
  });

  it('round-trips through a libpq-style parser', () => {
    const tricky = [
      { user: 'barman', password: 'p:a:s\\s\\:w' },
      { user: 'barman_streaming', password: '::\\\\' },
    ];
    const parse = (line: string) => {
      const fields: string[] = [];
      let cur = '';
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '\\' && i + 1 < line.length) cur += line[++i];
        else if (line[i] === ':') {
          fields.push(cur);
          cur = '';
        } else cur += line[i];
      }
      fields.push(cur);
      return fields;
    };
    const lines = renderPassfile(tricky).trimEnd().split('\n');
    expect(lines.map(parse)).toEqual(tricky.map((e) => ['*', '*', '*', e.user, e.password]));
  });
});

describe('renderPgIdent', () => {
  it('maps each OS user (once) to the postgres role under map pgha', () => {
    const rows = hbaRows(renderPgIdent(['root', 'postgres', 'root']));
    expect(rows).toEqual([
      ['pgha', 'root', 'postgres'],
      ['pgha', 'postgres', 'postgres'],
    ]);
    expect(renderPgIdent(['root']).endsWith('\n')).toBe(true);
  });

  it('the map name matches the peer line of pg_hba', () => {
    const hba = renderPgHba(localConfig());
    const map = /peer map=(\S+)/.exec(hba)![1];
    const rows = hbaRows(renderPgIdent(['postgres']));
    expect(rows.every((r) => r[0] === map)).toBe(true);
  });
});

describe('lastFatalLine: why a postmaster exited, from its log', () => {
  it('the last FATAL or PANIC line, trimmed; null when there is none', () => {
    const log = [
      '2026-12-01 05:00:00.000 UTC [10] LOG:  starting PostgreSQL 15',
      '2026-12-01 05:00:01.000 UTC [11] FATAL:  the database system is starting up',
      '2026-12-01 05:00:02.000 UTC [12] LOG:  redo done at 0/5000060',
      '2026-12-01 05:00:02.100 UTC [12] FATAL:  recovery ended before configured recovery target was reached  ',
      '2026-12-01 05:00:02.200 UTC [10] LOG:  startup process (PID 12) exited with exit code 1',
    ].join('\n');
    expect(lastFatalLine(log)).toBe('2026-12-01 05:00:02.100 UTC [12] FATAL:  recovery ended before configured recovery target was reached');
    expect(lastFatalLine('x PANIC:  could not locate a valid checkpoint record\ny LOG:  aborted')).toBe('x PANIC:  could not locate a valid checkpoint record');
    expect(lastFatalLine('LOG: all fine\nLOG: FATALITY is a word, FATAL without a colon is not a level')).toBeNull();
  });

  it("a client's connection refused after the server's own FATAL does not hide it (seen: the watchdog connecting during recovery)", () => {
    const log = [
      '2026-12-01 11:14:15.400 UTC [31120] FATAL:  recovery ended before configured recovery target was reached',
      '2026-12-01 11:14:15.410 UTC [31100] LOG:  startup process (PID 31120) exited with exit code 1',
      '2026-12-01 11:14:15.510 UTC [31132] FATAL:  the database system is in recovery mode',
      '2026-12-01 11:14:15.520 UTC [31133] FATAL:  terminating connection due to administrator command',
    ].join('\n');
    expect(lastFatalLine(log)).toBe('2026-12-01 11:14:15.400 UTC [31120] FATAL:  recovery ended before configured recovery target was reached');
    // only connection FATALs: the last of them, rather than nothing
    expect(lastFatalLine('a FATAL:  the database system is starting up\nb FATAL:  the database system is shutting down')).toBe('b FATAL:  the database system is shutting down');
  });
});
