import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drainEventSpool, parseSpooledEvent, repmgrEventTime } from '../../src/events.js';
import { PROMOTION_EVENTS, REPMGR_COMMAND_MAX, repmgrHooks } from '../../src/repmgr/actions.js';
import { nodePaths } from '../../src/config/paths.js';
import { localConfig } from './helpers.js';

/** What repmgr runs for an event: its placeholders replaced in the configured line, through /bin/sh. */
function runHook(command: string, e: { n: number; e: string; s: string; t: string }) {
  const line = command.replace(/%n/g, String(e.n)).replace(/%e/g, e.e).replace(/%s/g, e.s).replace(/%t/g, e.t);
  execFileSync('/bin/sh', ['-c', line]);
}

describe("repmgrEventTime: repmgr's %t as the time the event happened", () => {
  it.each([
    ['2026-12-01 17:39:58.123456+00', '2026-12-01T17:39:58.123Z'],
    ['2026-12-01 17:39:58+00', '2026-12-01T17:39:58.000Z'],
    ['2026-12-01 18:39:58+0100', '2026-12-01T17:39:58.000Z'],
    ['2026-12-01 12:09:58.5-05:30', '2026-12-01T17:39:58.500Z'],
  ])('%s → %s', (t, iso) => {
    expect(repmgrEventTime(t)).toBe(iso);
  });

  it.each(['', '%t', 'yesterday', '2026-12-01', '2026-13-45 99:99:99+00'])('%j is not a time: null (the hook then records its own)', (t) => {
    expect(repmgrEventTime(t)).toBeNull();
  });
});

describe("the event hook: repmgr's events without a Node process, promotions at once", () => {
  const T = '2026-12-01 17:39:58.123456+00';

  /** node2's event hook over a spool folder of its own (removed after `fn`). */
  async function withNode2Hook(fn: (hook: string, spool: string) => unknown) {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-unit-spool-'));
    try {
      const config = localConfig({ stateDir: dir });
      const spool = nodePaths(config, config.nodes[1]).eventSpool;
      mkdirSync(spool, { recursive: true });
      await fn(repmgrHooks({ config, node: config.nodes[1], run: undefined as never, log: () => {} }).eventCommand!, spool);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('an event the control worker does not act on is one line in the node\'s spool folder, with repmgr\'s time', () =>
    withNode2Hook((hook, spool) => {
      // repmgr replaces %s anywhere: the line must hold no other % (printf '%s' would have been broken)
      expect(hook.replace(/%[nest]/g, '')).not.toContain('%');
      runHook(hook, { n: 2, e: 'standby_register', s: '1', t: T });
      const files = readdirSync(spool);
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/\.event$/);
      expect(parseSpooledEvent(readFileSync(join(spool, files[0]), 'utf8'))).toEqual({ nodeId: 2, event: 'standby_register', success: '1', at: '2026-12-01T17:39:58.123Z' });
    }));

  it('events the hook spools one after the other are recorded in that order (its file names are random)', () =>
    withNode2Hook(async (hook, spool) => {
      const order = ['standby_clone', 'standby_register', 'repmgrd_start', 'standby_follow', 'repmgrd_upstream_reconnect', 'child_node_new_connect'];
      for (const e of order) runHook(hook, { n: 2, e, s: '1', t: T });
      const got: string[] = [];
      expect(await drainEventSpool(spool, async (e) => void got.push(e.event), () => {})).toBe(order.length);
      expect(got).toEqual(order);
      expect(readdirSync(spool)).toEqual([]);
    }));

  it('a promotion event goes through the CLI at once, in the background, with --at and %t quoted (it holds a space)', () => {
    const config = localConfig();
    const hooks = repmgrHooks({ config, node: config.nodes[0], run: undefined as never, log: () => {} });
    expect(PROMOTION_EVENTS).toEqual(['repmgrd_failover_promote']);
    expect(hooks.eventCommand).toMatch(/^case %e in repmgrd_failover_promote\) .* event --redis-file \S+ --cluster pgha --node-id %n --event %e --success %s --at '%t' >\/dev\/null 2>&1 & ;; \*\) /);
  });
});

describe("the hooks fit repmgr's command buffer", () => {
  it('the default paths leave room; a state folder that would make repmgr cut a command is refused, naming it', () => {
    const config = localConfig();
    const hooks = repmgrHooks({ config, node: config.nodes[2], run: undefined as never, log: () => {} });
    for (const c of Object.values(hooks)) expect(c!.replace(/%[a-z]/g, 'x'.repeat(40)).length).toBeLessThanOrEqual(REPMGR_COMMAND_MAX);
    const long = localConfig({ stateDir: `/var/lib/${'p'.repeat(300)}` });
    expect(() => repmgrHooks({ config: long, node: long.nodes[0], run: undefined as never, log: () => {} })).toThrow(/cuts a command at 1023: shorten stateDir \(\/var\/lib\/p+\)/);
  });
});

describe('parseSpooledEvent / drainEventSpool', () => {
  it('parses "NODE_ID EVENT SUCCESS TIME"; anything else is null', () => {
    expect(parseSpooledEvent('3 repmgrd_start 0 2026-12-01 17:39:58+00\n')).toEqual({ nodeId: 3, event: 'repmgrd_start', success: '0', at: '2026-12-01T17:39:58.000Z' });
    expect(parseSpooledEvent('3 repmgrd_start 1\n')).toEqual({ nodeId: 3, event: 'repmgrd_start', success: '1', at: undefined });
    for (const bad of ['', 'x repmgrd_start 1 t', '3 Bad-Event 1 t', '3 repmgrd_start 2 t']) expect(parseSpooledEvent(bad)).toBeNull();
  });

  it('records each spooled event in file order and deletes it; one that cannot be recorded stays, with the ones after it; junk is deleted with a warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-unit-spool-'));
    try {
      writeFileSync(join(dir, 'event.a.event'), '1 standby_clone 1 2026-12-01 17:00:00+00\n');
      writeFileSync(join(dir, 'event.b.event'), '1 standby_register 1 2026-12-01 17:00:01+00\n');
      writeFileSync(join(dir, 'event.c.event'), 'garbage\n');
      writeFileSync(join(dir, 'event.d'), '1 half_written 1\n'); // mktemp's name, not yet moved: not read
      writeFileSync(join(dir, 'event.e'), '1 killed_half_way 1\n'); // a hook killed before its mv, long ago
      const t = Date.now() / 1000;
      // written in this order (the names say nothing)
      utimesSync(join(dir, 'event.b.event'), t - 30, t - 30);
      utimesSync(join(dir, 'event.a.event'), t - 20, t - 20);
      utimesSync(join(dir, 'event.c.event'), t - 10, t - 10);
      utimesSync(join(dir, 'event.e'), t - 120, t - 120);
      const got: string[] = [];
      const ids: string[] = [];
      const warnings: string[] = [];
      let redisUp = false;
      const record = async (e: { event: string; success: boolean; at?: string; jobId: string }) => {
        if (!redisUp) throw new Error('Redis down');
        got.push(`${e.event} ${e.success} ${e.at}`);
        ids.push(e.jobId);
      };
      expect(await drainEventSpool(dir, record, (l) => warnings.push(l))).toBe(0);
      // the stale half-written file went; every event stays for the next turn
      expect(readdirSync(dir).sort()).toEqual(['event.a.event', 'event.b.event', 'event.c.event', 'event.d']);
      redisUp = true;
      expect(await drainEventSpool(dir, record, (l) => warnings.push(l))).toBe(2);
      expect(got).toEqual(['standby_register true 2026-12-01T17:00:01.000Z', 'standby_clone true 2026-12-01T17:00:00.000Z']);
      // one job id per spooled file: recorded twice (a crash before the delete), still one job
      expect(ids).toEqual(['event-1-event.b', 'event-1-event.a']);
      expect(readdirSync(dir)).toEqual(['event.d']);
      expect(warnings).toEqual([expect.stringContaining('is not an event')]);
      // no spool folder yet: nothing to do
      expect(await drainEventSpool(join(dir, 'missing'), record, () => {})).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

