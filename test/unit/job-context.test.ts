import { describe, it, expect } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { sleep } from '../../jobs/context.js';

describe('sleep in a step', () => {
  it('leaves no abort listener behind when it ends (a polling step sleeps hundreds of times on one signal)', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await sleep(1, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('a signal cancelled before the sleep (the step was busy elsewhere) ends it at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const started = Date.now();
    await expect(sleep(60_000, ac.signal)).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('is cancelled by its signal', async () => {
    const ac = new AbortController();
    const s = sleep(60_000, ac.signal);
    ac.abort();
    await expect(s).rejects.toThrow('cancelled');
  });
});
