import { describe, it, expect } from '@jest/globals';
import { KEEP_ON_REWIND, renderRepmgrConf } from '../../src/repmgr/render.js';
import { localConfig } from './helpers.js';

/** repmgr.conf `key=value` pairs, raw values (quotes kept). Throws on a setting that appears twice. */
function rawConf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const m = /^([a-z_]+)=(.*)$/.exec(line);
    if (!m) throw new Error(`not a setting: ${line}`);
    if (out.has(m[1])) throw new Error(`setting ${m[1]} twice`);
    out.set(m[1], m[2]);
  }
  return out;
}

/** A quoted repmgr.conf value: '...' with '' for a quote inside (fails the test otherwise). */
function unquote(v: string | undefined): string {
  expect(v).toBeDefined();
  expect(v!.startsWith("'") && v!.endsWith("'") && v!.length >= 2).toBe(true);
  const inner = v!.slice(1, -1);
  // every quote inside is doubled: removing the pairs leaves none
  expect(inner.replace(/''/g, '')).not.toContain("'");
  return inner.replace(/''/g, "'");
}

const conf = rawConf;
const FENCE_KEYS = ['child_nodes_check_interval', 'child_nodes_connected_min_count', 'child_nodes_disconnect_timeout', 'child_nodes_disconnect_command'];

describe('renderRepmgrConf: failover and its commands', () => {
  it("failover='automatic' by default", () => {
    const config = localConfig();
    expect(config.repmgr.failover).toBe('automatic');
    expect(conf(renderRepmgrConf(config, config.nodes[0])).get('failover')).toBe("'automatic'");
  });

  it("failover='manual' when repmgr.failover is manual", () => {
    const config = localConfig({ repmgr: { failover: 'manual' } });
    for (const n of config.nodes) expect(conf(renderRepmgrConf(config, n)).get('failover')).toBe("'manual'");
  });

  it("promote_command and follow_command use this node's repmgr.conf", () => {
    const config = localConfig();
    for (const n of config.nodes) {
      const c = conf(renderRepmgrConf(config, n));
      expect(unquote(c.get('promote_command'))).toBe(`repmgr standby promote -f /etc/repmgr.d/${n.name}.conf --log-to-file`);
      expect(unquote(c.get('follow_command'))).toBe(`repmgr standby follow -f /etc/repmgr.d/${n.name}.conf --log-to-file --upstream-node-id=%n`);
    }
  });

  it('the commands follow repmgr.configDir', () => {
    const config = localConfig({ repmgr: { configDir: '/opt/pgha/repmgr' } });
    const c = conf(renderRepmgrConf(config, config.nodes[1]));
    expect(unquote(c.get('promote_command'))).toContain('-f /opt/pgha/repmgr/node2.conf ');
    expect(unquote(c.get('follow_command'))).toContain('-f /opt/pgha/repmgr/node2.conf ');
  });

  it('monitor_interval_secs, reconnect_attempts, reconnect_interval come from the config', () => {
    const defaults = localConfig();
    const d = conf(renderRepmgrConf(defaults, defaults.nodes[0]));
    expect(d.get('monitor_interval_secs')).toBe(String(defaults.repmgr.monitorIntervalSecs));
    expect(d.get('reconnect_attempts')).toBe(String(defaults.repmgr.reconnectAttempts));
    expect(d.get('reconnect_interval')).toBe(String(defaults.repmgr.reconnectIntervalSecs));

    const config = localConfig({ repmgr: { monitorIntervalSecs: 4, reconnectAttempts: 7, reconnectIntervalSecs: 9 } });
    const c = conf(renderRepmgrConf(config, config.nodes[0]));
    expect(c.get('monitor_interval_secs')).toBe('4');
    expect(c.get('reconnect_attempts')).toBe('7');
    expect(c.get('reconnect_interval')).toBe('9');
  });

  it('primary_visibility_consensus=true (a standby promotes only when no other still sees the primary)', () => {
    const config = localConfig();
    for (const n of config.nodes) expect(conf(renderRepmgrConf(config, n)).get('primary_visibility_consensus')).toBe('true');
  });
});

describe('renderRepmgrConf: hooks', () => {
  const config = localConfig();
  const EVENT = "/usr/bin/node /opt/pgha/bin/pgha.js event --node %n --event %e --success %s --details '%d'";
  const FENCE = '/usr/bin/node /opt/pgha/bin/pgha.js fence --node node1';

  it('no event_notification_command without hooks, or with an empty one', () => {
    expect(conf(renderRepmgrConf(config, config.nodes[0])).has('event_notification_command')).toBe(false);
    expect(conf(renderRepmgrConf(config, config.nodes[0], { hooks: {} })).has('event_notification_command')).toBe(false);
    expect(conf(renderRepmgrConf(config, config.nodes[0], { hooks: { eventCommand: '' } })).has('event_notification_command')).toBe(false);
    expect(conf(renderRepmgrConf(config, config.nodes[0], { hooks: { fenceCommand: FENCE } })).has('event_notification_command')).toBe(false);
  });

  it('event_notification_command when hooks.eventCommand is given, quotes inside doubled', () => {
    const text = renderRepmgrConf(config, config.nodes[0], { hooks: { eventCommand: EVENT } });
    const c = conf(text);
    expect(c.get('event_notification_command')).toBe(`'${EVENT.replace(/'/g, "''")}'`);
    expect(text).toContain(`--details ''%d'''`);
    expect(unquote(c.get('event_notification_command'))).toBe(EVENT);
  });

  it('child_nodes_* (fencing) when fenceCommand is given, fenceAfterSecs > 0 and more than one node', () => {
    const c = conf(renderRepmgrConf(config, config.nodes[0], { hooks: { fenceCommand: FENCE } }));
    expect(config.repmgr.fenceAfterSecs).toBe(30);
    expect(c.get('child_nodes_check_interval')).toBe('1');
    expect(c.get('child_nodes_connected_min_count')).toBe('1');
    expect(c.get('child_nodes_disconnect_timeout')).toBe('30');
    expect(unquote(c.get('child_nodes_disconnect_command'))).toBe(FENCE);
  });

  it('child_nodes_disconnect_timeout is repmgr.fenceAfterSecs', () => {
    const cfg = localConfig({ repmgr: { fenceAfterSecs: 12 } });
    expect(conf(renderRepmgrConf(cfg, cfg.nodes[0], { hooks: { fenceCommand: FENCE } })).get('child_nodes_disconnect_timeout')).toBe('12');
  });

  it('no child_nodes_* lines without a fence command', () => {
    for (const hooks of [undefined, {}, { eventCommand: EVENT }, { fenceCommand: '' }]) {
      const c = conf(renderRepmgrConf(config, config.nodes[0], { hooks }));
      for (const k of FENCE_KEYS) expect(c.has(k)).toBe(false);
    }
  });

  it('no child_nodes_* lines when fenceAfterSecs is 0 (fencing off)', () => {
    const cfg = localConfig({ repmgr: { fenceAfterSecs: 0 } });
    const c = conf(renderRepmgrConf(cfg, cfg.nodes[0], { hooks: { fenceCommand: FENCE, eventCommand: EVENT } }));
    for (const k of FENCE_KEYS) expect(c.has(k)).toBe(false);
    // the event hook is independent of fencing
    expect(c.has('event_notification_command')).toBe(true);
  });

  it('no child_nodes_* lines in a one-node cluster (it has no standby to lose)', () => {
    const single = localConfig({ nodes: [{ name: 'solo', host: '127.0.0.21', master: true }] });
    const c = conf(renderRepmgrConf(single, single.nodes[0], { hooks: { fenceCommand: FENCE } }));
    for (const k of FENCE_KEYS) expect(c.has(k)).toBe(false);
    // two nodes is enough
    const pair = localConfig({ nodes: [{ name: 'a', host: '127.0.0.21', master: true }, { name: 'b', host: '127.0.0.22' }] });
    expect(conf(renderRepmgrConf(pair, pair.nodes[0], { hooks: { fenceCommand: FENCE } })).get('child_nodes_disconnect_timeout')).toBe('30');
  });

  it('single quotes inside commands are doubled, so a quote cannot end the value', () => {
    const evil = "x' ; failover='manual";
    const text = renderRepmgrConf(config, config.nodes[0], { hooks: { eventCommand: evil, fenceCommand: evil } });
    const c = conf(text);
    // failover is still the config's; the whole text stays inside the one quoted value
    expect(c.get('failover')).toBe("'automatic'");
    expect(c.get('event_notification_command')).toBe("'x'' ; failover=''manual'");
    expect(unquote(c.get('event_notification_command'))).toBe(evil);
    expect(unquote(c.get('child_nodes_disconnect_command'))).toBe(evil);
  });
});

describe('KEEP_ON_REWIND', () => {
  it("keeps this node's own configuration files", () => {
    for (const f of ['pgha.conf', 'pg_hba.conf', 'pg_ident.conf', 'postgresql.conf']) expect(KEEP_ON_REWIND).toContain(f);
  });

  it('holds file names only, no paths and no duplicates', () => {
    for (const f of KEEP_ON_REWIND) expect(f).not.toContain('/');
    expect(new Set(KEEP_ON_REWIND).size).toBe(KEEP_ON_REWIND.length);
  });
});
