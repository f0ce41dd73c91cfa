import { describe, it, expect } from '@jest/globals';
import { renderRepmgrConf, repmgrConninfo } from '../../src/repmgr/render.js';
import { secretsOf } from '../../src/config/load.js';
import { localConfig, CUSTOM_PASSWORDS } from './helpers.js';

/** repmgr.conf `key=value` pairs, single quotes removed (doubled quotes restored). */
function conf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (!m) throw new Error(`not a setting: ${line}`);
    if (out.has(m[1])) throw new Error(`setting ${m[1]} twice`);
    const v = m[2];
    out.set(m[1], v.startsWith("'") && v.endsWith("'") ? v.slice(1, -1).replace(/''/g, "'") : v);
  }
  return out;
}

/** libpq conninfo `k=v` pairs. */
const conninfo = (s: string) => Object.fromEntries(s.split(' ').map((kv) => kv.split('=') as [string, string]));

describe('renderRepmgrConf', () => {
  const config = localConfig();

  it('node_id is the position in the nodes list, from 1', () => {
    expect(config.nodes.map((n) => conf(renderRepmgrConf(config, n)).get('node_id'))).toEqual(['1', '2', '3']);
  });

  it('node_name, data_directory, replication_user, passfile', () => {
    const c = conf(renderRepmgrConf(config, config.nodes[1]));
    expect(c.get('node_name')).toBe('node2');
    expect(c.get('data_directory')).toBe('/var/lib/postgresql/node2');
    expect(c.get('replication_user')).toBe('repmgr_streaming');
    expect(c.get('passfile')).toBe('/var/lib/pgha/nodes/node2/pgpass');
    expect(c.get('pg_bindir')).toBe('/usr/lib/postgresql/15/bin');
    expect(c.get('use_replication_slots')).toBe('yes');
  });

  it('conninfo: this node\'s host, consumer port, user and db repmgr; no password and no host-specific passfile', () => {
    const c = conf(renderRepmgrConf(config, config.nodes[2]));
    const ci = conninfo(c.get('conninfo')!);
    expect(ci).toMatchObject({
      host: '127.0.0.13',
      port: '5432',
      user: 'repmgr',
      dbname: 'repmgr',
    });
    expect(ci).not.toHaveProperty('password');
    // stored in repmgr's metadata and used from other hosts, where this node's passfile path does not exist
    expect(ci).not.toHaveProperty('passfile');
    expect(c.get('conninfo')).not.toMatch(/password=/);
  });

  it('conninfo: a peer cut off the network is given up within seconds (TCP keepalives, tcp_user_timeout), not after the kernel\'s ~15 min', () => {
    const ci = conninfo(conf(renderRepmgrConf(config, config.nodes[0])).get('conninfo')!);
    expect(ci).toMatchObject({ connect_timeout: '2', keepalives: '1', keepalives_idle: '2', keepalives_interval: '1', keepalives_count: '3', tcp_user_timeout: '5000' });
  });

  it('the port option overrides the conninfo port (technical phase)', () => {
    const c = conf(renderRepmgrConf(config, config.nodes[0], { port: 5434 }));
    expect(conninfo(c.get('conninfo')!).port).toBe('5434');
    // without the option: the consumer port
    expect(conninfo(conf(renderRepmgrConf(config, config.nodes[0])).get('conninfo')!).port).toBe('5432');
  });

  it('follows the configured consumer port', () => {
    const c = localConfig({ postgres: { port: 6000, technicalPort: 6001 } });
    expect(conninfo(conf(renderRepmgrConf(c, c.nodes[0])).get('conninfo')!).port).toBe('6000');
  });

  it('never contains a password', () => {
    for (const cfg of [config, localConfig(CUSTOM_PASSWORDS)]) {
      for (const n of cfg.nodes) {
        const text = renderRepmgrConf(cfg, n, { port: 5434 });
        for (const secret of secretsOf(cfg)) expect(text).not.toContain(secret);
        expect(text).not.toMatch(/password=/);
      }
    }
  });

  it('service commands use pg_ctl on this node\'s data directory', () => {
    const c = conf(renderRepmgrConf(config, config.nodes[1]));
    expect(c.get('service_start_command')).toBe(
      '/usr/lib/postgresql/15/bin/pg_ctl -D /var/lib/postgresql/node2 -l /var/lib/pgha/nodes/node2/postgresql.log -w start',
    );
    expect(c.get('service_stop_command')).toContain('-D /var/lib/postgresql/node2');
    expect(c.get('service_restart_command')).toContain('-D /var/lib/postgresql/node2');
  });

  it('priority and location come from the node and the cluster', () => {
    const c = localConfig({
      cluster: 'demo',
      nodes: [
        { name: 'a', host: '10.0.0.1', master: true, priority: 7 },
        { name: 'b', host: '10.0.0.2' },
      ],
    });
    const a = conf(renderRepmgrConf(c, c.nodes[0]));
    expect(a.get('priority')).toBe('7');
    expect(a.get('location')).toBe('demo');
    expect(conf(renderRepmgrConf(c, c.nodes[1])).get('priority')).toBe('100');
  });

  it('ends with a newline', () => {
    expect(renderRepmgrConf(config, config.nodes[0]).endsWith('\n')).toBe(true);
  });
});

describe('repmgrConninfo', () => {
  it('is exactly the conninfo of repmgr.conf', () => {
    const config = localConfig();
    const n = config.nodes[1];
    expect(conf(renderRepmgrConf(config, n)).get('conninfo')).toBe(repmgrConninfo(config, n));
    expect(conf(renderRepmgrConf(config, n, { port: 5434 })).get('conninfo')).toBe(repmgrConninfo(config, n, 5434));
  });
});
