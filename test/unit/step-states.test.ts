// readStepStates: a step that fails while it is being read never shows 'failed' without its reason.
import { describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import { readStepStates } from '../../src/flows/run.js';

/** A queue holding one job that fails after `flipAfter` reads of Redis (each getJobState, getJob or job.getState is one). */
function failingQueue(flipAfter: number) {
  let reads = 0;
  const failed = () => reads > flipAfter;
  const read = <T>(v: () => T): T => {
    const out = v();
    reads++;
    return out;
  };
  const snapshot = () => ({
    attemptsMade: failed() ? 1 : 0,
    failedReason: failed() ? 'PostgreSQL on node1 exited during recovery' : '',
    getState: async () => read(() => (failed() ? 'failed' : 'active')),
  });
  const queue = {
    getJobState: async () => read(() => (failed() ? 'failed' : 'active')),
    getJob: async () => read(snapshot),
  };
  return () => queue as unknown as Queue;
}

describe('readStepStates', () => {
  it.each([0, 1, 2, 3])("a job failing after %i reads is 'failed' only with its failedReason", async (flipAfter) => {
    const [st] = await readStepStates(failingQueue(flipAfter), 'f1', [{ step: 'install-restored', queueName: 'q', jobId: 'j1' }]);
    if (st.state === 'failed') expect(st.failedReason).toBe('PostgreSQL on node1 exited during recovery');
    else expect(st.state).toBe('active');
  });
});
