// The crash-safety suite's fault injection (workers/runtime.ts crashPoint): off unless its variable is
// set; when set, the worker dies by SIGKILL right after the named job's N-th log line, once.
import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { crashPoint } from '../../workers/runtime.js';

const runtime = resolve(import.meta.dirname, '..', '..', 'dist', 'workers', 'runtime.js');

/** A process that reports each log line it survives, as a worker's processor would call the hook. */
const script = (file: string) => `
  const { crashPoint } = await import(${JSON.stringify(runtime)});
  const crash = crashPoint(${JSON.stringify(file)});
  for (const [job, line] of [['other-job', 3], ['job-1', 1], ['job-1', 2], ['job-1', 3], ['job-1', 4]]) {
    crash(job, line);
    console.log(job + ':' + line);
  }`;

/** A crash point file's path in a temporary folder, removed after `fn`. */
async function withPoint(fn: (file: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-crash-'));
  try {
    await fn(join(dir, 'point.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const run = (file: string) => execa(process.execPath, ['--input-type=module', '-e', script(file)], { reject: false });

describe('crash points', () => {
  it('unset: the hook does nothing and reads nothing', () => {
    expect(() => crashPoint(undefined)('job-1', 1)).not.toThrow();
  });

  it('a point for another job or line leaves the process running', () =>
    withPoint(async (file) => {
      writeFileSync(file, JSON.stringify({ jobId: 'job-9', logLine: 1 }));
      const crash = crashPoint(file);
      crash('job-1', 1);
      crash('job-9', 2);
      expect(existsSync(file)).toBe(true);
      // no file: nothing to do
      crashPoint(`${file}.none`)('job-9', 1);
    }));

  it('a pattern with * names a job of a flow whose id is made when the cluster starts it', () =>
    withPoint(async (file) => {
      writeFileSync(file, JSON.stringify({ jobId: 'job-*', logLine: 2 }));
      const r = await run(file);
      expect(r.signal).toBe('SIGKILL');
      expect(r.stdout.split('\n')).toEqual(['other-job:3', 'job-1:1']);
      // no match: a dot in the pattern is a dot, not any character
      writeFileSync(file, JSON.stringify({ jobId: 'job.*', logLine: 2 }));
      expect((await run(file)).exitCode).toBe(0);
    }));

  it('the worker dies by SIGKILL right after that job line, and the point is used once', () =>
    withPoint(async (file) => {
      writeFileSync(file, JSON.stringify({ jobId: 'job-1', logLine: 3 }));
      const r = await run(file);
      expect(r.signal).toBe('SIGKILL');
      expect(r.stdout.split('\n')).toEqual(['other-job:3', 'job-1:1', 'job-1:2']);
      // removed before dying: the restarted worker runs the step through
      expect(existsSync(file)).toBe(false);
      const again = await run(file);
      expect(again.exitCode).toBe(0);
      expect(again.stdout.split('\n')).toHaveLength(5);
    }));
});
