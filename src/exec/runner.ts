// The one way pgha runs a command: argument arrays (never a shell), the right OS user,
// timeouts, cancellation, and every command line and its output logged with secrets redacted.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { execa, type Options, type Result } from 'execa';

export type OsUser = { name: string; uid: number; gid: number; home: string };

/** Parse one user's entry out of /etc/passwd text (pure). */
export function parsePasswd(text: string, name: string): OsUser | undefined {
  for (const line of text.split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name) return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
  }
  return undefined;
}

export function lookupUser(name: string): OsUser {
  const user = parsePasswd(readFileSync('/etc/passwd', 'utf8'), name);
  if (!user) throw new Error(`OS user "${name}" does not exist on this host; install its package (postgresql-15 / barman) or set osUsers.* in pgha.yaml`);
  return user;
}

/** Replace every secret in text by ****. Longest first, so a secret containing another is fully hidden. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('****');
  }
  return out;
}

/** How a command line appears in logs: quoted where needed, secrets redacted. */
export function formatCommand(cmd: string, args: readonly string[], secrets: readonly string[]): string {
  const quote = (a: string) => (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return redact([cmd, ...args].map(quote).join(' '), secrets);
}

export interface RunOptions {
  /** OS user to run as when we are root; ignored otherwise. */
  user?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Exit codes other than 0 are returned instead of thrown. */
  allowFail?: boolean;
  /**
   * For commands that leave a daemon behind (repmgrd, barman cron's receive-wal): their output goes to
   * this file instead of pipes, so we do not wait on a pipe the daemon keeps open.
   */
  outputFile?: string;
  /** Lines of output kept in the log (the head is dropped). */
  maxLogLines?: number;
}

export interface CommandResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export class CommandError extends Error {
  constructor(readonly result: CommandResult, hint?: string) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    super(`${result.command} exited ${result.exitCode}${tail ? `: ${tail}` : ''}${hint ? `\n${hint}` : ''}`);
  }
}

export type LogSink = (line: string) => unknown;

export class Runner {
  constructor(
    private readonly secrets: readonly string[],
    private readonly log: LogSink = () => {},
    private readonly defaults: { signal?: AbortSignal; timeoutMs?: number } = {},
  ) {}

  withLog(log: LogSink, signal?: AbortSignal): Runner {
    return new Runner(this.secrets, log, { ...this.defaults, signal });
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const command = formatCommand(cmd, args, this.secrets);
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const user = opts.user && asRoot ? lookupUser(opts.user) : undefined;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      ...(process.env.PGHA_LOCAL_DIR ? { PGHA_LOCAL_DIR: process.env.PGHA_LOCAL_DIR } : {}),
      ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : { HOME: process.env.HOME ?? '/root' }),
      ...opts.env,
    };
    await this.log(`$ ${command}${user ? `   (as ${user.name})` : ''}`);
    const started = Date.now();
    // outputFile: the child gets the file's own descriptor, never a pipe. execa's `{ file }` target is a pipe
    // that execa copies into the file, and execa waits until every holder of that pipe closes it: a daemon
    // the command leaves behind (repmgrd, receive-wal) would block run() for as long as the daemon lives.
    // (execa's types list only descriptors 1-9; at run time any open descriptor is handed to the child as is.)
    const fd = opts.outputFile ? openSync(opts.outputFile, 'a') : undefined;
    const stdio = (fd ?? 'pipe') as 'pipe';
    const options: Options = {
      cwd: opts.cwd,
      env,
      extendEnv: false,
      uid: user?.uid,
      gid: user?.gid,
      timeout: opts.timeoutMs ?? this.defaults.timeoutMs ?? 300_000,
      cancelSignal: opts.signal ?? this.defaults.signal,
      reject: false,
      stdin: 'ignore',
      stdout: stdio,
      stderr: stdio,
      stripFinalNewline: true,
    };
    let res: Result<Options>;
    try {
      res = await execa(cmd, args, options);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    if (res.exitCode === undefined && !res.timedOut && !res.isCanceled) {
      // could not start at all (missing binary, bad cwd, unknown user)
      await this.log(`  → could not run: ${res.shortMessage}`);
      throw new Error(`${command}: could not run (${this.redact(res.shortMessage ?? 'unknown error')})`);
    }
    const result: CommandResult = {
      command,
      exitCode: res.exitCode ?? (res.isCanceled ? 130 : 124),
      stdout: this.redact(String(res.stdout ?? '')),
      stderr: this.redact(String(res.stderr ?? '')),
      durationMs: Date.now() - started,
    };
    const output = [result.stdout, result.stderr].filter(Boolean).join('\n');
    const lines = output ? output.split('\n') : [];
    const keep = opts.maxLogLines ?? 60;
    if (lines.length > keep) await this.log(`  … ${lines.length - keep} earlier lines not shown`);
    for (const line of lines.slice(-keep)) await this.log(`  ${line}`);
    if (opts.outputFile) await this.log(`  (output appended to ${opts.outputFile})`);
    const why = res.timedOut ? ' (timed out)' : res.isCanceled ? ' (cancelled)' : '';
    await this.log(`  → exit ${result.exitCode}${why} in ${result.durationMs} ms`);
    if (res.timedOut || res.isCanceled) throw new CommandError(result, why.trim());
    if (result.exitCode !== 0 && !opts.allowFail) throw new CommandError(result);
    return result;
  }
}
