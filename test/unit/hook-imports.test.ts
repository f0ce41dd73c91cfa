// repmgr runs bin/pgha.js for each of its hooks (a dozen times in a bootstrap, and on its failover
// path): what a hook loads is what it uses, not the whole CLI. Runs the built CLI (npm test builds first).
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

let dir: string;
// the built CLI of this checkout (jest runs from the repository's root)
const CLI_ENTRY = join(process.cwd(), 'bin', 'pgha.js');

/**
 * The packages (node_modules/NAME) and pgha modules (dist/…) one CLI run resolves. The commands here
 * fail by design (no Redis file, no node answers): only what they loaded matters.
 */
function loadedBy(args: string[]): { packages: Set<string>; modules: string[] } {
  const log = join(dir, `resolved-${args[0]}-${args[1]}.txt`);
  try {
    execFileSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, CLI_ENTRY, ...args], {
      env: { ...process.env, RESOLVE_LOG: log },
      stdio: 'ignore',
      timeout: 60_000,
    });
  } catch {
    // expected: see above
  }
  const urls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const packages = new Set(urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((p): p is string => !!p));
  const modules = urls.map((u) => /\/dist\/(.*)$/.exec(u)?.[1]).filter((m): m is string => !!m);
  return { packages, modules };
}

const HEAVY = ['express', '@bull-board/api', '@bull-board/express', 'winston', 'yaml', 'execa', 'cron-parser', 'prom-client', 'playwright-core'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-hook-imports-'));
  // module.register's resolve hook: every URL the CLI resolves, one per line
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.RESOLVE_LOG) appendFileSync(process.env.RESOLVE_LOG, r.url + '\\n');
  return r;
}
`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("repmgr's hooks load only what they use", () => {
  it('the resolve log sees what a full command loads (the check itself works)', () => {
    const { packages } = loadedBy(['config', 'check', join(dir, 'missing.yaml')]);
    expect(packages.has('commander')).toBe(true);
    expect(packages.has('zod')).toBe(true);
    expect(packages.has('yaml')).toBe(true);
  });

  it('event (event_notification_command): bullmq and zod, none of the CLI’s other libraries', () => {
    const { packages, modules } = loadedBy(['event', '--redis-file', join(dir, 'missing.json'), '--cluster', 'x', '--node-id', '1', '--event', 'e', '--success', '1']);
    // it went as far as the event's own module (then failed on the missing file)
    expect(modules).toContain('src/events.js');
    expect(packages.has('bullmq')).toBe(true);
    for (const heavy of HEAVY) expect([heavy, packages.has(heavy)]).toEqual([heavy, false]);
    // none of the flow builders, workers, or the whole cluster schema
    for (const m of ['src/config/schema.js', 'src/step.js', 'src/local/cluster.js', 'src/status.js', 'workers/runtime.js']) expect(modules).not.toContain(m);
  });

  it("validate-promotion (repmgrd's failover_validation_command): the promotion rule and pg, no bullmq", () => {
    const { packages, modules } = loadedBy(['validate-promotion', '--node', 'node1', '--nodes', 'node1=127.0.0.1', '--port', '1', '--passfile', join(dir, 'missing'), '--timeout-ms', '200']);
    expect(modules).toContain('src/repmgr/validate.js');
    expect(packages.has('pg')).toBe(true);
    // execa comes with src/postgres/actions.js (the timeline reservation's helpers live there)
    for (const heavy of [...HEAVY.filter((h) => h !== 'execa'), 'bullmq']) expect([heavy, packages.has(heavy)]).toEqual([heavy, false]);
    expect(modules).not.toContain('src/local/cluster.js');
  });
});
