// How pgha calls itself from hooks (repmgr's event and fence commands) and spawned processes.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/pgha.js of this checkout (this file runs from dist/src/). */
export const CLI_ENTRY = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'pgha.js');

/** A shell command line running the pgha CLI (repmgr runs its hooks through a shell). */
export function cliCommandLine(args: string[]): string {
  const quote = (a: string) => (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return [process.execPath, CLI_ENTRY, ...args].map(quote).join(' ');
}
