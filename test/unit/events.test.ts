import { describe, it, expect } from '@jest/globals';
import { repmgrEventTime } from '../../src/events.js';
import { repmgrHooks } from '../../src/repmgr/actions.js';
import { localConfig } from './helpers.js';

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

describe("the event hook passes repmgr's time", () => {
  it('ends with --at and %t quoted (it holds a space), in the background', () => {
    const config = localConfig();
    const hooks = repmgrHooks({ config, node: config.nodes[0], run: undefined as never, log: () => {} });
    expect(hooks.eventCommand).toMatch(/ --node-id %n --event %e --success %s --at '%t' >\/dev\/null 2>&1 &$/);
  });
});
