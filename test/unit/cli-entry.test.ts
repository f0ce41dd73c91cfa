import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { isAbsolute } from 'node:path';
import { CLI_ENTRY, cliCommandLine } from '../../src/cli-entry.js';

/** What a POSIX shell makes of a command line: its words, one per NUL (run through /bin/sh, as repmgr does). */
function shellWords(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${commandLine}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

/** The part of the command line after the node binary and the entry script. */
function argsPart(line: string): string {
  const prefix = cliCommandLine([]);
  expect(line.startsWith(prefix + ' ')).toBe(true);
  return line.slice(prefix.length + 1);
}

describe('CLI_ENTRY', () => {
  it('is an absolute path to bin/pgha.js', () => {
    expect(isAbsolute(CLI_ENTRY)).toBe(true);
    expect(CLI_ENTRY.endsWith('/bin/pgha.js')).toBe(true);
  });
});

describe('cliCommandLine', () => {
  it('starts with the node binary, then bin/pgha.js, then the arguments', () => {
    const line = cliCommandLine(['event', '--cluster', 'pgha']);
    expect(line.startsWith(`${process.execPath} `)).toBe(true);
    expect(line).toBe(`${process.execPath} ${CLI_ENTRY} event --cluster pgha`);
  });

  it('without arguments: the node binary and the entry script only', () => {
    expect(cliCommandLine([])).toBe(`${process.execPath} ${CLI_ENTRY}`);
    expect(shellWords(cliCommandLine([]))).toEqual([process.execPath, CLI_ENTRY]);
  });

  it('plain arguments (paths, urls, options with =) stay unquoted', () => {
    const args = ['--redis-url-file', '/var/lib/pgha/nodes/node1/redis-url', '--url=redis://127.0.0.1:6379/0', 'a,b', 'user@host', '+1', '-x'];
    expect(argsPart(cliCommandLine(args))).toBe(args.join(' '));
  });

  it('%n and the other repmgr placeholders stay unquoted (repmgr substitutes them)', () => {
    const line = cliCommandLine(['--node-id', '%n', '--event', '%e', '--success', '%s']);
    expect(line.endsWith(' --node-id %n --event %e --success %s')).toBe(true);
    expect(line).not.toContain("'%n'");
  });

  it('an argument with spaces is single-quoted', () => {
    expect(argsPart(cliCommandLine(['--details', 'two words']))).toBe("--details 'two words'");
  });

  it("a single quote inside is written as '\\''", () => {
    expect(argsPart(cliCommandLine(["it's"]))).toBe(`'it'\\''s'`);
  });

  it('an empty argument is kept as \'\'', () => {
    expect(argsPart(cliCommandLine(['a', '', 'b']))).toBe("a '' b");
  });

  it('every argument reaches the program exactly as given through a shell, metacharacters included', () => {
    const nasty = [
      'two words',
      "it's",
      "''",
      '"double"',
      '$HOME',
      '`id`',
      '$(id)',
      'a;b',
      'a|b',
      'a&b',
      '>out',
      '<in',
      '*',
      '?',
      '[x]',
      '~',
      '#comment',
      'back\\slash',
      'tab\there',
      'new\nline',
      '!',
      '{a,b}',
      '',
      '%n',
      'é ü',
    ];
    const line = cliCommandLine(nasty);
    expect(shellWords(argsPart(line))).toEqual(nasty);
    expect(shellWords(line)).toEqual([process.execPath, CLI_ENTRY, ...nasty]);
  });

  it('the event hook command line pgha renders survives the shell', () => {
    const args = ['event', '--redis-file', '/var/lib/pgha/nodes/node 1/redis.json', '--cluster', 'pgha', '--node-id', '%n', '--event', '%e', '--success', '%s'];
    expect(shellWords(cliCommandLine(args)).slice(2)).toEqual(args);
  });
});
