// How pgha calls itself from hooks (repmgr's event and fence commands) and spawned processes.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/pgha.js of this checkout (this file runs from dist/src/). */
export const CLI_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'pgha.js');

/** One argument for a POSIX shell: as it is when it holds only safe characters, else single-quoted. */
export const shellQuote = (a: string) => (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** A shell command line running the pgha CLI (repmgr runs its hooks through a shell). */
export function cliCommandLine(args: string[]): string {
  return [process.execPath, CLI_ENTRY, ...args].map(shellQuote).join(' ');
}
