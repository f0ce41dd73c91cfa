// The multi-host test bed's network: one namespace per docker-compose service, names resolvable,
// cut and heal, and nothing left behind. The cluster the compose file describes runs on it in
// compose-bed.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { NetnsBed, hostsFile, planBed } from '../bed/netns.js';
import { isAlive } from '../../src/fsutil.js';
import { repoRoot, waitFor } from './harness.js';

const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'));
const serviceNames = Object.keys(compose.services);
let bed: NetnsBed;

/** From `from`'s namespace, connect to host:port by name; the greeting, or the error's code. */
const reach = async (from: string, host: string, port: number) => {
  const script = `const s = require('net').connect(${port}, ${JSON.stringify(host)}); s.setTimeout(1500, () => { console.log('TIMEOUT'); process.exit(0); }); s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.on('error', (e) => { console.log(e.code); process.exit(0); });`;
  return String((await bed.exec(from, process.execPath, ['-e', script], { reject: false, timeout: 10_000 })).stdout ?? '').trim();
};

beforeAll(async () => {
  bed = new NetnsBed(serviceNames);
  await bed.up();
}, 60_000);

afterAll(async () => {
  await bed?.down();
});

describe('network namespace test bed', () => {
  it('plans one namespace, address and hosts entry per compose service', () => {
    expect(serviceNames).toEqual(expect.arrayContaining(['redis', 'pg1', 'pg2', 'pg3', 'barman', 'dashboard']));
    const plan = planBed('t1', ['redis', 'pg1']);
    expect(plan.services).toEqual([
      { name: 'redis', ns: 'pgha-t1-redis', ip: '10.231.0.11', prefix: 16, link: 'eth0' },
      { name: 'pg1', ns: 'pgha-t1-pg1', ip: '10.231.0.12', prefix: 16, link: 'eth0' },
    ]);
    expect(planBed('t2', ['redis', 'pg1'], '172.30.42.0/24').services.map((x) => `${x.ip}/${x.prefix}`)).toEqual(['172.30.42.11/24', '172.30.42.12/24']);
    expect(() => planBed('t3', [], '10.0.0.0/8')).toThrow(/a \/24/);
    expect(hostsFile(plan.services)).toBe('127.0.0.1 localhost\n::1 localhost\n10.231.0.11 redis\n10.231.0.12 pg1\n');
    expect(() => planBed('Bad id', [])).toThrow(/bed id/);
  });

  it("each service resolves the others by compose name and reaches them; the machine's own network is untouched", async () => {
    const pg1 = bed.service('pg1');
    const resolved = await bed.exec('pg2', 'getent', ['hosts', 'pg1']);
    expect(resolved.stdout).toMatch(new RegExp(`^${pg1.ip.replace(/\./g, '\\.')}\\s+pg1`));
    const server = bed.exec('pg1', process.execPath, ['-e', "require('net').createServer((s) => s.end('hello from pg1')).listen(7000, '0.0.0.0')"], { reject: false });
    await waitFor('pg1 listening', async () => (await reach('pg2', 'pg1', 7000)) === 'hello from pg1', 10_000, 200);
    expect(await reach('barman', 'pg1', 7000)).toBe('hello from pg1');
    expect(await bed.pids('pg1')).toContain(server.pid);
    // nothing of the bed on the machine's own interfaces
    expect((await execa('ip', ['-o', 'addr'])).stdout).not.toContain(pg1.ip);
  });

  it('cut takes a service off the network (its processes keep running); heal brings it back', async () => {
    await bed.cut('pg1');
    expect(await reach('pg2', 'pg1', 7000)).not.toBe('hello from pg1');
    expect(await reach('pg1', 'redis', 6379)).not.toBe('ECONNREFUSED'); // no route at all, not a refusal
    expect((await bed.pids('pg1')).length).toBeGreaterThan(0);
    await bed.heal('pg1');
    await waitFor('pg1 reachable again', async () => (await reach('pg2', 'pg1', 7000)) === 'hello from pg1', 10_000, 200);
  });

  it('down removes every namespace, link and hosts file, and kills what ran inside (by pid)', async () => {
    const pids = await bed.pids('pg1');
    expect(pids.length).toBeGreaterThan(0);
    await bed.down();
    const list = (await execa('ip', ['netns', 'list'])).stdout;
    for (const s of bed.services) {
      expect(list).not.toContain(s.ns);
      expect(existsSync(join('/etc/netns', s.ns))).toBe(false);
    }
    expect(list).not.toContain(bed.hub);
    await waitFor('processes gone', async () => pids.every((p) => !isAlive(p)), 5000, 100);
    await bed.down(); // idempotent
  });
});
