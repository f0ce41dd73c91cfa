import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, Runner, formatCommand, lookupUser, parsePasswd, redact } from '../../src/exec/runner.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'postgres:x:105:110:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash',
  'barman:x:106:111::/var/lib/barman:/bin/sh',
  'nohome:x:200:201:::/usr/sbin/nologin',
  '',
].join('\n');

describe('parsePasswd', () => {
  it('reads name, uid, gid and home of one user', () => {
    expect(parsePasswd(PASSWD, 'postgres')).toEqual({ name: 'postgres', uid: 105, gid: 110, home: '/var/lib/postgresql' });
    expect(parsePasswd(PASSWD, 'barman')).toEqual({ name: 'barman', uid: 106, gid: 111, home: '/var/lib/barman' });
    expect(parsePasswd(PASSWD, 'root')).toEqual({ name: 'root', uid: 0, gid: 0, home: '/root' });
  });

  it('an empty home becomes /', () => {
    expect(parsePasswd(PASSWD, 'nohome')?.home).toBe('/');
  });

  it('unknown users (and prefixes of known ones) are undefined', () => {
    expect(parsePasswd(PASSWD, 'mysql')).toBeUndefined();
    expect(parsePasswd(PASSWD, 'post')).toBeUndefined();
    expect(parsePasswd('', 'root')).toBeUndefined();
  });
});

describe('lookupUser', () => {
  it('finds root in /etc/passwd', () => {
    expect(lookupUser('root')).toMatchObject({ name: 'root', uid: 0, gid: 0 });
  });

  it('an unknown user is an error that names it', () => {
    expect(() => lookupUser('no-such-user-pgha-test')).toThrow('OS user "no-such-user-pgha-test" does not exist');
  });
});

describe('redact', () => {
  it('replaces every occurrence', () => {
    expect(redact('pw=s3cr3t and again s3cr3ts3cr3t', ['s3cr3t'])).toBe('pw=**** and again ********');
  });

  it('replaces the longest secret first, so a secret containing another is fully hidden', () => {
    expect(redact('a=iamrepmgr b=iamstreamingrepmgr c=repmgr', ['repmgr', 'iamrepmgr', 'iamstreamingrepmgr'])).toBe('a=**** b=**** c=****');
    // the order given must not matter
    expect(redact('x abcdef y abc', ['abc', 'abcdef'])).toBe('x **** y ****');
    expect(redact('x abcdef y abc', ['abcdef', 'abc'])).toBe('x **** y ****');
  });

  it('ignores empty secrets and leaves text without secrets alone', () => {
    expect(redact('nothing to hide', ['', 'zzz'])).toBe('nothing to hide');
    expect(redact('nothing to hide', [])).toBe('nothing to hide');
  });

  it('treats secrets literally (no regex meaning)', () => {
    expect(redact('p=a.b*c+(d) q=aXbbc', ['a.b*c+(d)'])).toBe('p=**** q=aXbbc');
  });

  it('does not reorder the caller\'s array', () => {
    const secrets = ['a', 'abc', 'ab'];
    redact('abc', secrets);
    expect(secrets).toEqual(['a', 'abc', 'ab']);
  });
});

describe('formatCommand', () => {
  it('leaves plain arguments unquoted', () => {
    expect(formatCommand('/usr/bin/pg_ctl', ['-D', '/var/lib/postgresql/node1', '-o', 'port=5434', 'a@b', '50%', 'x,y:z+1'], [])).toBe(
      '/usr/bin/pg_ctl -D /var/lib/postgresql/node1 -o port=5434 a@b 50% x,y:z+1',
    );
  });

  it('quotes arguments with spaces, shell characters or nothing at all', () => {
    expect(formatCommand('psql', ['-c', 'SELECT 1', '', 'a;b', '$HOME', 'x*'], [])).toBe("psql -c 'SELECT 1' '' 'a;b' '$HOME' 'x*'");
  });

  it('escapes single quotes the shell way', () => {
    expect(formatCommand('echo', ["it's"], [])).toBe("echo 'it'\\''s'");
  });

  it('redacts secrets in arguments, quoted or not', () => {
    const line = formatCommand('psql', ['-c', "ALTER ROLE repmgr PASSWORD 'hunter2'", 'pw=hunter2'], ['hunter2']);
    expect(line).toBe("psql -c 'ALTER ROLE repmgr PASSWORD '\\''****'\\''' pw=****");
    expect(line).not.toContain('hunter2');
  });
});

describe('Runner.run', () => {
  const SECRET = 'Sup3r-S3cret';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-runner-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const collect = () => {
    const lines: string[] = [];
    return { lines, sink: (line: string) => void lines.push(line) };
  };

  it('logs the command line and its output with secrets replaced by ****', async () => {
    const { lines, sink } = collect();
    const runner = new Runner([SECRET], sink);
    const res = await runner.run('/bin/echo', ['hello', `password=${SECRET}`]);
    expect(res.exitCode).toBe(0);
    expect(res.command).toBe('/bin/echo hello password=****');
    expect(res.stdout).toBe('hello password=****');
    expect(res.stderr).toBe('');
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
    expect(lines[0]).toBe('$ /bin/echo hello password=****');
    expect(lines).toContain('  hello password=****');
    expect(lines[lines.length - 1]).toMatch(/^ {2}→ exit 0 in \d+ ms$/);
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('redacts secrets that appear only in the output', async () => {
    const { lines, sink } = collect();
    const runner = new Runner([SECRET], sink);
    const res = await runner.run('/bin/sh', ['-c', 'printf "%s-%s\\n" Sup3r S3cret; echo Sup3r-S3cret >&2']);
    expect(res.stdout).toBe('****');
    expect(res.stderr).toBe('****');
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('a failing command throws CommandError with the exit code', async () => {
    const { lines, sink } = collect();
    const runner = new Runner([], sink);
    let error: unknown;
    await runner.run('/bin/false', []).catch((e: unknown) => {
      error = e;
    });
    expect(error).toBeInstanceOf(CommandError);
    const ce = error as CommandError;
    expect(ce.result.exitCode).toBe(1);
    expect(ce.result.command).toBe('/bin/false');
    expect(ce.message).toBe('/bin/false exited 1');
    expect(lines[lines.length - 1]).toMatch(/→ exit 1 in \d+ ms$/);
  });

  it('allowFail returns the failing result instead of throwing', async () => {
    const res = await new Runner([]).run('/bin/false', [], { allowFail: true });
    expect(res.exitCode).toBe(1);
  });

  it('the error message carries the tail of stderr, redacted', async () => {
    const runner = new Runner([SECRET]);
    const run = runner.run('/bin/sh', ['-c', `echo "FATAL: password ${SECRET} rejected" >&2; exit 3`]);
    await expect(run).rejects.toThrow(/exited 3: FATAL: password \*\*\*\* rejected$/);
    await run.catch((e: unknown) => {
      expect((e as Error).message).not.toContain(SECRET);
      expect((e as CommandError).result.exitCode).toBe(3);
    });
  });

  it('timeoutMs kills a long command quickly and throws, even with allowFail', async () => {
    const { lines, sink } = collect();
    const runner = new Runner([], sink);
    const started = Date.now();
    let error: unknown;
    await runner.run('/bin/sleep', ['5'], { timeoutMs: 200, allowFail: true }).catch((e: unknown) => {
      error = e;
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toContain('timed out');
    expect((error as CommandError).result.exitCode).not.toBe(0);
    expect(lines.some((l) => l.includes('(timed out)'))).toBe(true);
  });

  it('the Runner default timeout applies when the call gives none', async () => {
    const runner = new Runner([], () => {}, { timeoutMs: 200 });
    const started = Date.now();
    await expect(runner.run('/bin/sleep', ['5'])).rejects.toThrow('timed out');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('an aborted AbortSignal cancels the command', async () => {
    const { lines, sink } = collect();
    const runner = new Runner([], sink);
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 100);
    let error: unknown;
    await runner.run('/bin/sleep', ['5'], { signal: ac.signal }).catch((e: unknown) => {
      error = e;
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as CommandError).message).toContain('cancelled');
    expect((error as CommandError).result.exitCode).not.toBe(0);
    expect(lines.some((l) => l.includes('(cancelled)'))).toBe(true);
  });

  it('a signal that is already aborted cancels at once', async () => {
    const ac = new AbortController();
    ac.abort();
    const started = Date.now();
    await expect(new Runner([]).run('/bin/sleep', ['5'], { signal: ac.signal })).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('withLog: new sink and default signal, same secrets', async () => {
    const base = new Runner([SECRET]);
    const { lines, sink } = collect();
    const ac = new AbortController();
    const runner = base.withLog(sink, ac.signal);
    await runner.run('/bin/echo', [SECRET]);
    expect(lines[0]).toBe('$ /bin/echo ****');
    expect(runner.redact(`x${SECRET}x`)).toBe('x****x');
    setTimeout(() => ac.abort(), 100);
    await expect(runner.run('/bin/sleep', ['5'])).rejects.toThrow('cancelled');
  });

  it('runs with a clean environment plus opts.env', async () => {
    const res = await new Runner([]).run('/usr/bin/env', [], { env: { PGHA_TEST_VALUE: 'xyz' } });
    const vars = new Map(res.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    expect(vars.get('PGHA_TEST_VALUE')).toBe('xyz');
    expect(vars.get('LC_ALL')).toBe('C.UTF-8');
    expect(vars.has('PATH')).toBe(true);
    // jest sets JEST_WORKER_ID in this process: it must not leak into commands
    expect(process.env.JEST_WORKER_ID).toBeDefined();
    expect(vars.has('JEST_WORKER_ID')).toBe(false);
  });

  it('runs in opts.cwd', async () => {
    const res = await new Runner([]).run('/bin/pwd', [], { cwd: dir });
    expect(res.stdout).toBe(dir);
  });

  it('keeps only the last maxLogLines lines of output in the log', async () => {
    const { lines, sink } = collect();
    const res = await new Runner([], sink).run('/usr/bin/seq', ['1', '100'], { maxLogLines: 5 });
    expect(res.stdout.split('\n')).toHaveLength(100);
    expect(lines).toContain('  … 95 earlier lines not shown');
    const output = lines.filter((l) => /^ {2}\d+$/.test(l)).map((l) => l.trim());
    expect(output).toEqual(['96', '97', '98', '99', '100']);
  });

  it('outputFile: the output goes to the file, the log says where', async () => {
    const file = join(dir, 'daemon.log');
    const { lines, sink } = collect();
    const runner = new Runner([], sink);
    const res = await runner.run('/bin/echo', ['first'], { outputFile: file });
    await runner.run('/bin/echo', ['second'], { outputFile: file });
    expect(res.exitCode).toBe(0);
    expect(res.stdout).toBe('');
    expect(readFileSync(file, 'utf8')).toBe('first\nsecond\n');
    expect(lines).toContain(`  (output appended to ${file})`);
  });

  it('outputFile: a process left behind holding the output does not block run()', async () => {
    // what `repmgrd --daemonize` and `barman cron` (receive-wal) do: exit, leaving a child with our stdout
    const file = join(dir, 'daemon2.log');
    const started = Date.now();
    const res = await new Runner([], () => {}, { timeoutMs: 20_000 }).run('/bin/sh', ['-c', 'sleep 5 & echo "pid $!"'], { outputFile: file });
    const elapsed = Date.now() - started;
    const pid = Number(/pid (\d+)/.exec(readFileSync(file, 'utf8'))?.[1]);
    if (pid > 0) {
      try {
        process.kill(pid);
      } catch {
        // already gone
      }
    }
    expect(res.exitCode).toBe(0);
    expect(pid).toBeGreaterThan(0);
    expect(elapsed).toBeLessThan(2500);
  });

  it('a command that cannot start is an error saying so', async () => {
    const { lines, sink } = collect();
    const run = new Runner([], sink).run('/no/such/binary-pgha', ['x']);
    await expect(run).rejects.toThrow(/^\/no\/such\/binary-pgha x: could not run \(/);
    await run.catch((e: unknown) => expect(e).not.toBeInstanceOf(CommandError));
    expect(lines.some((l) => l.startsWith('  → could not run: '))).toBe(true);
  });
});
