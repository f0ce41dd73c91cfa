import { describe, it, expect } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { pollUntil, sleep, WaitTimeout } from '../../src/wait.js';

describe('sleep (the one cancellable sleep)', () => {
  it('leaves no abort listener behind when it ends (a polling step sleeps hundreds of times on one signal)', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a signal aborted before the sleep (the step was busy elsewhere) ends it at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const started = Date.now();
    await expect(sleep(60_000, ac.signal)).rejects.toThrow(/^cancelled$/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('is ended by its signal, saying why (a worker stopping cancels its step with a reason the failed job shows)', async () => {
    const ac = new AbortController();
    const s = sleep(60_000, ac.signal);
    ac.abort('worker stopped by SIGTERM');
    await expect(s).rejects.toThrow('cancelled: worker stopped by SIGTERM');
    const plain = new AbortController();
    const t = sleep(60_000, plain.signal);
    plain.abort();
    await expect(t).rejects.toThrow(/^cancelled$/);
  });
});

describe('pollUntil', () => {
  it('returns the first value that is not undefined or false, checking every everyMs', async () => {
    let n = 0;
    const v = await pollUntil('third time', async () => (++n === 3 ? { n } : n === 1 ? undefined : false), { timeoutMs: 5000, everyMs: 1 });
    expect(v).toEqual({ n: 3 });
  });

  it('runs out by time (not by turns), naming what it waited for', async () => {
    const started = Date.now();
    const err = await pollUntil('the primary answers', async () => undefined, { timeoutMs: 200, everyMs: 30 }).catch((e) => e);
    expect(err).toBeInstanceOf(WaitTimeout);
    expect(err.message).toBe('the primary answers: not so after 0.2 s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("throws the caller's error when it runs out, and a check's own error at once", async () => {
    await expect(pollUntil('x', async () => false, { timeoutMs: 10, everyMs: 5, onTimeout: () => new Error('node2 does not stream from node1 after 0.01 s') })).rejects.toThrow('node2 does not stream from node1 after 0.01 s');
    let calls = 0;
    await expect(pollUntil('x', async () => {
      calls++;
      throw new Error('left recovery');
    }, { timeoutMs: 10_000, everyMs: 5 })).rejects.toThrow('left recovery');
    expect(calls).toBe(1);
  });

  it('stops at its next sleep when its signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const started = Date.now();
    await expect(pollUntil('never', async () => undefined, { timeoutMs: 60_000, everyMs: 20, signal: ac.signal })).rejects.toThrow(/^cancelled/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
