// The CLI as a user runs it: `pgha config check`, the compose file's services through it, long-running commands.
import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createServer } from 'node:net';
import { execa } from 'execa';
import { cli, cliPath, freePort, repoRoot, waitFor } from './harness.js';

const PROBLEM_LINE = /^[A-Za-z0-9_.()\s]+: .+ \(got .+\)$/;

function tmpFile(text: string): { file: string; done(): void } {
  const dir = mkdtempSync('/tmp/pgha-test-cli-');
  const file = join(dir, 'pgha.yaml');
  writeFileSync(file, text);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('pgha config check', () => {
  it('prints every problem as path.to.field: what is wrong (got X) and exits 2', async () => {
    const t = tmpFile(
      [
        'cluster: pgha',
        'colour: blue',
        'postgres: {port: 99999, technicalPort: "x"}',
        'repmgr: {password: hunter2hunter2}',
        'barman: {retentionPolicy: "forever", password: b, streamingPassword: c}',
        'nodes:',
        '  - {name: "node 1", host: 10.0.0.1, master: true}',
        '  - {name: node2, host: 10.0.0.1, master: true}',
      ].join('\n'),
    );
    try {
      const res = await cli(['config', 'check', t.file]);
      expect(res.exitCode).toBe(2);
      const lines = res.stderr.trim().split('\n');
      for (const l of lines) expect(l).toMatch(PROBLEM_LINE);
      const text = res.stderr;
      expect(text).toMatch(/^colour: unknown key.*\(got "blue"\)$/m);
      expect(text).toMatch(/^postgres\.port: must be a TCP port \(1-65535\) \(got 99999\)$/m);
      expect(text).toMatch(/^postgres\.technicalPort: must be number \(got "x"\)$/m);
      expect(text).toMatch(/^barman\.retentionPolicy: must be "RECOVERY WINDOW OF .* \(got "forever"\)$/m);
      expect(text).toMatch(/^nodes\.0\.name: only letters, digits, "-" and "_" are allowed \(got "node 1"\)$/m);
      expect(text).toMatch(/^nodes: exactly one node must have master: true, found 2/m);
      expect(text).toMatch(/^nodes\.1\.host: two nodes on one host/m);
      expect(text).not.toContain('hunter2hunter2');
      expect(res.stdout).toBe('');
    } finally {
      t.done();
    }
  });

  it('refuses the seed passwords outside local mode, naming each field', async () => {
    const t = tmpFile('nodes: [{name: a, host: 10.0.0.1, master: true}]\n');
    try {
      const res = await cli(['config', 'check', t.file]);
      expect(res.exitCode).toBe(2);
      expect(res.stderr).toMatch(/^repmgr\.password: the seed's default password is allowed only with mode: local; set your own \(got \*\*\*\*\)$/m);
      expect(res.stderr).not.toContain('iamrepmgr');
    } finally {
      t.done();
    }
  });

  it('on success prints the resolved config with secrets masked; PGHA_* overrides apply with --env', async () => {
    const t = tmpFile('mode: local\nnodes: [{name: a, host: 127.0.0.11, master: true}]\n');
    try {
      const res = await cli(['config', 'check', t.file]);
      expect(res.exitCode).toBe(0);
      const out = parse(res.stdout);
      expect(out.postgres).toMatchObject({ port: 5432, technicalPort: 5434, dataDir: '/var/lib/postgresql', rootPassword: '****' });
      expect(out.barman).toMatchObject({ backupDir: '/home/barman/data', retentionPolicy: 'RECOVERY WINDOW OF 5 DAYS', configDir: '/etc/barman.d/' });
      expect(out.repmgr).toMatchObject({ configDir: '/etc/repmgr.d/', password: '****', streamingPassword: '****' });
      expect(res.stdout).not.toMatch(/mysecretpassword|iamrepmgr|iambarman|iamstreaming/);
      expect(res.stderr).toMatch(/warning: postgres\.rootPassword: uses the seed's default password/);
    } finally {
      t.done();
    }
  });
});

describe('docker-compose.yml, as docker-compose reads it', () => {
  // `docker-compose config`: the real compose implementation interpolates .env.example's values and
  // resolves the anchors; no engine needed
  let compose: { services: Record<string, any>; networks: any };
  const service = (name: string) => compose.services[name];
  const pghaServices = () => Object.keys(compose.services).filter((n) => Object.keys(service(n).environment ?? {}).some((k) => k.startsWith('PGHA_')));

  it('resolves: redis, three PostgreSQL nodes, barman, the dashboard and HAProxy, every image built from the Dockerfile', async () => {
    const r = await execa('docker-compose', ['--env-file', '.env.example', '-f', 'docker-compose.yml', 'config'], { cwd: repoRoot, reject: false });
    expect({ code: r.exitCode, err: r.stderr }).toEqual({ code: 0, err: '' });
    compose = parse(r.stdout);
    expect(Object.keys(compose.services).sort()).toEqual(['barman', 'dashboard', 'haproxy', 'pg1', 'pg2', 'pg3', 'redis']);
    for (const [name, s] of Object.entries(compose.services)) expect({ name, image: s.image, build: s.build?.target }).toEqual({ name, image: `pgha-${s.build.target}`, build: s.build.target });
    expect(pghaServices().sort()).toEqual(['barman', 'dashboard', 'pg1', 'pg2', 'pg3']);
    // the subnet and the published ports are variables with today's values as defaults
    expect(compose.networks.default.ipam.config).toEqual([{ subnet: '172.30.42.0/24' }]);
    expect(service('pg1').environment.PGHA_POSTGRES_ALLOWED_NETWORKS).toBe('[172.30.42.0/24]');
    // health checks in CMD-SHELL form (podman 4.3 splits a CMD-form check at its spaces)
    for (const n of ['pg1', 'dashboard', 'redis']) expect(service(n).healthcheck.test[0]).toBe('CMD-SHELL');
  });

  it.each(['pg1', 'pg2', 'pg3', 'barman', 'dashboard'])('service %s: its environment validates through pgha config check --env and its command is a CLI command', async (name) => {
    const svc = service(name);
    const check = await execa(process.execPath, [join(repoRoot, 'bin', 'pgha.js'), 'config', 'check', '--env'], { env: svc.environment, extendEnv: false, reject: false });
    expect({ code: check.exitCode, err: check.stderr }).toEqual({ code: 0, err: '' });
    expect(parse(check.stdout).mode).toBe('hosts');
    const help = await cli([...svc.command, '--help']);
    expect({ cmd: svc.command, code: help.exitCode }).toEqual({ cmd: svc.command, code: 0 });
    expect(help.stdout).toMatch(/^Usage: pgha (worker (node|barman)|dashboard)/m);
  });
});

describe('pgha status with no cluster running', () => {
  it('says in one line that nothing answers at the Redis address and how to start the cluster, shows the nodes as read, exits 1, at once', async () => {
    // a closed port for Redis and addresses where nothing listens for the nodes
    const t = tmpFile(['mode: local', 'redis: {url: "redis://127.0.0.1:1"}', 'nodes:', '  - {name: node1, host: 127.0.97.11, master: true}', '  - {name: node2, host: 127.0.97.12}'].join('\n'));
    try {
      const started = Date.now();
      const res = await cli(['status', '--config', t.file]);
      const took = Date.now() - started;
      expect(res.exitCode).toBe(1);
      expect(res.stderr.trim().split('\n')).toEqual([
        `pgha status: Redis at redis://127.0.0.1:1 does not answer (ECONNREFUSED): start the cluster with \`pgha local up\`, or check redis in ${t.file} (--config) (the nodes above were read directly)`,
      ]);
      expect(res.stdout).toMatch(/^node1 +127\.0\.97\.11 +5432 +down/m);
      expect(res.stdout).not.toMatch(/ioredis|ECONNREFUSED 127|at TCPConnectWrap/);
      // no 15 s wait for a barman worker behind a Redis that is not there (the CLI's own start-up included)
      expect(took).toBeLessThan(10_000);
    } finally {
      t.done();
    }
  });
});

describe('long-running commands: stopping and failing to start', () => {
  const base = (extra: string[]) => {
    const dir = mkdtempSync('/tmp/pgha-test-proc-');
    // Redis on a closed port: what a stop must survive
    const file = join(dir, 'pgha.yaml');
    writeFileSync(file, ['mode: local', 'redis: {url: "redis://127.0.0.1:1"}', `stateDir: ${dir}/state`, 'nodes:', '  - {name: node1, host: 127.0.96.11, master: true}', ...extra].join('\n'));
    return { dir, file, done: () => rmSync(dir, { recursive: true, force: true }) };
  };
  const run = (args: string[]) =>
    // forceKillAfterDelay off: execa's own SIGKILL 5 s after the SIGTERM would hide how the process ends
    execa(process.execPath, [cliPath, ...args], { cwd: repoRoot, reject: false, all: true, stdin: 'ignore', env: { PGHA_SHUTDOWN_GRACE_MS: '500' }, timeout: 60_000, forceKillAfterDelay: false });

  it('a node worker sent SIGTERM while Redis does not answer stops taking steps and exits by itself (1, saying so) within the grace period + 10 s', async () => {
    const t = base([]);
    try {
      const proc = run(['worker', 'node', '--name', 'node1', '--config', t.file]);
      let out = '';
      proc.all!.on('data', (c: Buffer) => void (out += c.toString()));
      await waitFor('the worker runs', async () => out.includes('consumes {pgha}.node.node1'), 30_000, 100);
      const sentAt = Date.now();
      proc.kill('SIGTERM');
      const r = await proc;
      const took = Date.now() - sentAt;
      expect(out).toContain('SIGTERM: no new steps; waiting up to 500 ms for the running one');
      expect(r.exitCode).toBe(1);
      expect(out).toContain('SIGTERM: not stopped 10.5 s later; exiting');
      expect(took).toBeLessThan(10_500 + 5_000);
    } finally {
      t.done();
    }
  }, 60_000);

  it('a dashboard whose address is taken exits 1 naming it, instead of saying it listens', async () => {
    const port = await freePort();
    const taken = createServer().listen(port, '127.0.96.21');
    await new Promise((ok) => taken.once('listening', ok));
    const t = base(['dashboard: {host: 127.0.96.21, port: ' + port + ', token: "0123456789abcdef0123"}']);
    try {
      const r = await run(['dashboard', '--config', t.file]);
      expect(r.exitCode).toBe(1);
      expect(r.all).toContain(`dashboard could not start: dashboard cannot listen on 127.0.96.21:${port}: listen EADDRINUSE`);
      expect(r.all).not.toContain(`dashboard on http://127.0.96.21:${port}/`);
    } finally {
      taken.close();
      t.done();
    }
  }, 60_000);

  it('local start of something that is not a node (barman) says so and starts nothing', async () => {
    const t = base([]);
    try {
      const r = await run(['local', 'start', 'barman', '--dir', t.dir]);
      expect(r.exitCode).toBe(1);
      expect(r.all).toBe(`barman is not a node of this cluster (nodes: node1); pgha local up --dir ${t.dir} starts the barman worker, the control worker and the dashboard if they are not running`);
      expect(existsSync(join(t.dir, 'pids'))).toBe(false);
    } finally {
      t.done();
    }
  });
});
