// The dashboard, its API, the health checks and the metrics on a real local cluster, and the cluster
// page and Bull Board in a real browser (Debian's chromium through playwright-core). Own cluster: the
// last tests kill the primary.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium, type Browser, type BrowserContext, type Dialog, type Page } from 'playwright-core';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisConnection } from '../../src/redis.js';
import { barmanQueueName, nodeQueueName } from '../../src/queues.js';
import { chainFlow } from '../../src/flows/chain.js';
import { nodePaths } from '../../src/config/paths.js';
import { execa } from 'execa';
import { startFlow } from '../../src/flows/run.js';
import { createDashboard } from '../../dashboard/server.js';
import { FAILOVER_EVENTS } from '../../dashboard/metrics.js';
import { cli, repoRoot, testCluster, waitFor, type TestCluster } from './harness.js';

const ARTIFACTS = join(repoRoot, 'test', 'artifacts');
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

let tc: TestCluster;
let redis: Redis;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
let headers: { authorization: string };

const api = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${base}${path}`, { ...init, headers: { ...headers, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
};
const post = (body: unknown) => api('/api/flows', { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
const flowDone = (flowId: string, timeoutMs = 180_000) =>
  waitFor(`flow ${flowId} completed`, async () => {
    const r = await api(`/api/flows/${flowId}`);
    if (r.body.state === 'failed') throw new Error(`flow ${flowId} failed: ${JSON.stringify(r.body.steps.find((s: any) => s.state === 'failed'))}`);
    return r.body.state === 'completed' ? r.body : undefined;
  }, timeoutMs, 500);
const health = async (node: string, path: string) => {
  const host = tc.config().nodes.find((n) => n.name === node)!.host;
  try {
    const res = await fetch(`http://${host}:${tc.config().health.port}${path}`, { signal: AbortSignal.timeout(5000) });
    return res.status;
  } catch {
    return 0; // nothing listens: the host is gone
  }
};
const rolesOnPage = () =>
  page.locator('#nodes g[data-node]').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-node'), e.getAttribute('data-role')])));

/** A key of Bull Board's messages.json shown as is (MENU.QUEUES, QUEUE.STATUS.ALL): its locale did not load. */
const RAW_TRANSLATION_KEY = /\b(?:(?:MENU|DASHBOARD|JOB|QUEUE|METRICS|LATENCY|CONFIRM|MODAL|REDIS|SETTINGS|ADD_JOB|ERRORS|SCHEDULERS|METRICS_HISTORY)(?:\.[A-Z_]+)+|LOADING)\b/;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  tc = await testCluster('dashboard', '127.0.22.11');
  const up = await cli(['local', 'up', ...tc.args], { timeoutMs: 420_000 });
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
  // local up printed the URL and the token it made (mode 0600, in the state folder)
  ({ base, headers } = tc.dashboard());
  expect(up.stdout).toContain(`dashboard: ${base}/`);
  expect(up.stdout).toContain(`dashboard token: ${tc.dashboard().token}`);
  expect(statSync(tc.config().dashboard.tokenFile!).mode & 0o777).toBe(0o600);
  redis = redisConnection(tc.config().redis);
  redis.on('error', () => {});
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  // logging in: the browser answers the dashboard's basic-auth challenge with any user and the token
  context = await browser.newContext({ httpCredentials: { username: 'dba', password: tc.dashboard().token }, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
}, 600_000);

afterAll(async () => {
  // the barman folder may have been left unreadable by a failed test
  try {
    chmodSync(join(tc.config().barman.backupDir, tc.config().cluster), 0o750);
  } catch {
    /* no cluster */
  }
  await browser?.close();
  redis?.disconnect();
  await tc?.destroy();
}, 300_000);

describe('authentication', () => {
  it('the page, Bull Board and the API answer 401 without the token or with a wrong one; bearer and basic auth pass; /metrics is open', async () => {
    for (const path of ['/', '/queues', '/queues/api/queues', '/api/status', '/api/flows', '/api/backups', '/api/events']) {
      expect({ path, status: (await fetch(`${base}${path}`)).status }).toEqual({ path, status: 401 });
      const wrong = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
      expect({ path, status: wrong.status }).toEqual({ path, status: 401 });
    }
    const noToken = await fetch(`${base}/api/flows`, { method: 'POST', body: JSON.stringify({ scenario: 'backup' }), headers: { 'content-type': 'application/json' } });
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toEqual({ error: expect.stringContaining('authentication required'), details: [] });
    expect(noToken.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await fetch(`${base}/api/status`, { headers })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`anyone:${tc.dashboard().token}`).toString('base64')}`;
    expect((await fetch(`${base}/`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('a browser without credentials gets the login form (the page answers 401 with it; /login serves it alone); a wrong token is refused there; the token gives an HttpOnly, SameSite=Strict session cookie and the page; log out ends it', async () => {
    const challenged = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await challenged.text()).toContain('<form method="post" action="login">');
    const anonymous = await browser.newContext();
    try {
      let p = await anonymous.newPage();
      // headless chromium turns a challenge it cannot answer into a navigation error: the form's own address
      await expect(p.goto(base)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
      await p.close();
      p = await anonymous.newPage();
      await p.goto(`${base}/login`);
      await p.fill('#token', 'not-the-token-at-all-really');
      await p.click('form button[type=submit]');
      await expect(p.locator('#login-error').textContent()).resolves.toBe('wrong token');
      expect((await anonymous.cookies()).filter((c) => c.name === 'pgha_session')).toEqual([]);
      await p.fill('#token', tc.dashboard().token);
      await Promise.all([p.waitForURL(`${base}/`), p.click('form button[type=submit]')]);
      await p.waitForSelector('#nodes g[data-node="node1"]');
      const cookies = (await anonymous.cookies()).filter((c) => c.name === 'pgha_session');
      expect(cookies).toEqual([expect.objectContaining({ httpOnly: true, sameSite: 'Strict', path: '/' })]);
      expect(cookies[0]!.value).not.toContain(tc.dashboard().token);
      // the page's own calls ride on the cookie, which no script reads
      expect(await p.evaluate(async () => (await fetch('api/status')).status)).toBe(200);
      expect(await p.evaluate(() => document.cookie)).toBe('');
      // the cookie works for a request outside the browser too, and a forged one does not
      const cookie = `pgha_session=${cookies[0]!.value}`;
      expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${base}/api/status`, { headers: { cookie: cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } })).status).toBe(401);
      await Promise.all([p.waitForURL(`${base}/login`), p.click('header form button')]);
      expect((await anonymous.cookies()).filter((c) => c.name === 'pgha_session')).toEqual([]);
      // logged out: the same cookie, replayed, is refused
      expect((await fetch(`${base}/api/status`, { headers: { cookie } })).status).toBe(401);
    } finally {
      await anonymous.close();
    }
    // a browser given the token as basic auth still sees the page at once
    const ok = await page.goto(base);
    expect(ok!.status()).toBe(200);
  });
});

describe('REST API', () => {
  it('GET /api/status has the content of pgha status --json', async () => {
    const [viaApi, viaCli] = await Promise.all([api('/api/status'), cli(['status', '--json', '--dir', tc.dir])]);
    const fromCli = JSON.parse(viaCli.stdout);
    const shape = (s: any) => ({ cluster: s.cluster, nodes: s.nodes.map((n: any) => [n.name, n.host, n.port, n.role, n.upstream, n.timeline, n.repmgrdPaused]), lastBackup: s.barman.lastBackup?.id, failover: s.automaticFailover });
    expect(shape(viaApi.body)).toEqual(shape(fromCli));
    expect(viaApi.body.nodes.map((n: any) => n.role)).toEqual(['primary', 'standby', 'standby']);
    expect(Object.keys(viaApi.body.barman)).toEqual(expect.arrayContaining(['backups', 'lastBackup', 'nextBackupAt']));
  });

  it('GET /api/flows lists the first-start flows; GET /api/flows/:id has each step with state, progress, attempts; unknown id is 404', async () => {
    const list = await api('/api/flows');
    expect(list.status).toBe(200);
    const ids = list.body.map((f: any) => f.flowId);
    for (const n of ['node1', 'node2', 'node3']) expect(ids).toContain(`pgha-first-start-${n}`);
    const one = await api('/api/flows/pgha-first-start-node1');
    expect(one.body).toMatchObject({ flowId: 'pgha-first-start-node1', scenario: 'first-start', state: 'completed', done: 11, total: 11 });
    expect(one.body.steps.map((s: any) => s.step)).toEqual([
      'check-master-flag', 'start-technical-port', 'configure-replication', 'create-users', 'create-repmgr-db', 'register-primary',
      'barman-config', 'barman-schedule', 'restart-consumer-port', 'start-repmgrd', 'barman-first-backup',
    ]);
    for (const s of one.body.steps) {
      expect(s).toMatchObject({ state: 'completed', attemptsMade: expect.any(Number), progress: { progress: 100, label: 'done' }, durationMs: expect.any(Number) });
      expect(s.attemptsMade).toBeGreaterThanOrEqual(1);
    }
    expect(one.body.steps.find((s: any) => s.step === 'barman-config').queueName).toBe(barmanQueueName('pgha'));
    const missing = await api('/api/flows/pgha-no-such-flow');
    expect(missing).toEqual({ status: 404, body: { error: 'no flow with id pgha-no-such-flow', details: [{ path: 'id', message: expect.any(String) }] } });
    expect((await api('/api/nothing-here')).status).toBe(404);
  });

  it('GET /api/backups and GET /api/events', async () => {
    const backups = await api('/api/backups');
    expect(backups.status).toBe(200);
    expect(backups.body.some((b: any) => b.status === 'DONE' && /^\d{8}T\d{6}$/.test(b.id))).toBe(true);
    const events = await api('/api/events');
    expect(events.status).toBe(200);
    expect(events.body.map((e: any) => e.event)).toEqual(expect.arrayContaining(['standby_register', 'standby_clone', 'repmgrd_start']));
    expect(events.body[0]).toEqual({ at: expect.any(String), node: expect.stringMatching(/^node\d$/), event: expect.any(String), success: expect.any(Boolean) });
  });

  it('no password and no token in any page or API answer', async () => {
    const config = tc.config();
    const secrets = [tc.dashboard().token, config.postgres.rootPassword, config.repmgr.password, config.repmgr.streamingPassword, config.barman.password, config.barman.streamingPassword];
    for (const path of ['/', '/api/status', '/api/overview', '/api/flows', '/api/flows/pgha-first-start-node1', '/api/backups', '/api/events', '/metrics', '/queues/api/queues?activeQueue=%7Bpgha%7D.node.node1&status=completed&page=1']) {
      const text = await (await fetch(`${base}${path}`, { headers })).text();
      expect(text.length).toBeGreaterThan(100);
      for (const secret of secrets) expect({ path, leaks: text.includes(secret) }).toEqual({ path, leaks: false });
    }
  });

  it('bad bodies are 400 naming the field; a failover while the primary takes writes is 409', async () => {
    const cases: [unknown, string][] = [
      [{}, 'scenario'],
      [{ scenario: 'reboot', node: 'node1' }, 'scenario'],
      [{ scenario: 'restart' }, 'node'],
      [{ scenario: 'restart', node: 'node9' }, 'node'],
      [{ scenario: 'restart', node: 7 }, 'node'],
      [{ scenario: 'restore', params: { confirm: 'yes' } }, 'params.confirm'],
      [{ scenario: 'restore' }, 'params.confirm'],
      [{ scenario: 'backup', params: { x: 1 } }, 'params'],
      ['{not json', '(body)'],
    ];
    for (const [body, field] of cases) {
      const r = await post(body);
      expect({ body, status: r.status, fields: r.body.details?.map((d: any) => d.path) }).toEqual({ body, status: 400, fields: [field] });
      expect(r.body.error).toEqual(expect.any(String));
    }
    const refused = await post({ scenario: 'failover', node: 'node2' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toContain('node1 still accepts writes');
  });

  it('POST /api/flows starts each scenario through the same builders as the CLI: backup, restart, first-start (again), switchover and back', async () => {
    const backup = await post({ scenario: 'backup' });
    expect(backup).toEqual({ status: 201, body: { flowId: expect.stringMatching(/^pgha-backup-/), scenario: 'backup', summary: 'backup of node1', steps: expect.any(String) } });
    const b = await flowDone(backup.body.flowId);
    expect(b.steps.map((s: any) => s.step)).toEqual(['barman-ready', 'barman-backup']);
    const made = b.steps[1].returnValue;
    expect(made.backupId ?? made.skipped).toBeTruthy();
    // its log: the command it ran, as the step's Logs tab shows it
    const q = new Queue(barmanQueueName('pgha'), { connection: redis });
    const logs = (await q.getJobLogs(b.steps[1].jobId)).logs.join('\n');
    await q.close();
    expect(logs).toMatch(/barman .*(backup|list-backups)/);

    const restart = await post({ scenario: 'restart', node: 'node3' });
    expect(restart.status).toBe(201);
    expect((await flowDone(restart.body.flowId)).steps.map((s: any) => s.step)).toEqual(['set-repmgrd-paused', 'stop-postgres', 'decide-and-start', 'register-node', 'start-repmgrd', 'set-repmgrd-paused']);

    const again = await post({ scenario: 'first-start', node: 'node2' });
    expect(again).toMatchObject({ status: 201, body: { flowId: 'pgha-first-start-node2' } });
    expect((await flowDone('pgha-first-start-node2')).state).toBe('completed');

    for (const [to, from] of [['node2', 'node1'], ['node1', 'node2']]) {
      const sw = await post({ scenario: 'switchover', node: to });
      expect(sw.status).toBe(201);
      await flowDone(sw.body.flowId, 240_000);
      const st = await waitFor(`${to} primary, ${from} standby`, async () => {
        const s = (await api('/api/status')).body;
        const role = (n: string) => s.nodes.find((x: any) => x.name === n).role;
        return role(to) === 'primary' && role(from) === 'standby' && role('node3') === 'standby' ? s : undefined;
      }, 60_000, 500);
      expect(st.nodes.find((n: any) => n.name === from).upstream).toBe(to);
    }
  }, 600_000);

  it('read-only: POST /api/flows and Bull Board write actions are 403, reading still works', async () => {
    const config = tc.config();
    const { app, close } = createDashboard({ ...config, dashboard: { ...config.dashboard, readOnly: true } });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const ro = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const created = await fetch(`${ro}/api/flows`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ scenario: 'backup' }) });
      expect(created.status).toBe(403);
      expect((await created.json()).error).toContain('read-only');
      const retried = await fetch(`${ro}/queues/api/queues/${barmanQueueName('pgha')}/pgha-first-start-node1-barman-config/retry/failed`, { method: 'PUT', headers });
      expect(retried.status).toBe(403);
      expect((await fetch(`${ro}/api/status`, { headers })).status).toBe(200);
      expect((await fetch(`${ro}/api/status`)).status).toBe(401);
      // the page offers no operation in read-only mode
      const pageHtml = await (await fetch(`${ro}/`, { headers })).text();
      expect(pageHtml).toContain('id="topology"');
      expect(pageHtml).not.toContain('id="actions"');
      expect(pageHtml).not.toMatch(/<button id="do-/);
    } finally {
      server.close();
      await close();
    }
  });
});

describe('health checks for load balancers', () => {
  it('/primary, /replica and /health answer 200/503 by role on each node worker', async () => {
    expect(await Promise.all(['node1', 'node2', 'node3'].map((n) => health(n, '/primary')))).toEqual([200, 503, 503]);
    expect(await Promise.all(['node1', 'node2', 'node3'].map((n) => health(n, '/replica')))).toEqual([503, 200, 200]);
    expect(await Promise.all(['node1', 'node2', 'node3'].map((n) => health(n, '/replica?lag=16MB')))).toEqual([503, 200, 200]);
    expect(await Promise.all(['node1', 'node2', 'node3'].map((n) => health(n, '/health')))).toEqual([200, 200, 200]);
  });
});

describe('metrics', () => {
  it('GET /metrics: roles, up, lag, timeline, queue depths and failed jobs, step durations, backup age, failovers', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('pgha_node_role{node="node1",role="primary",cluster="pgha"} 1');
    expect(text).toContain('pgha_node_role{node="node2",role="standby",cluster="pgha"} 1');
    expect(text).toMatch(/pgha_node_up\{node="node3",cluster="pgha"\} 1/);
    expect(text).toMatch(/pgha_node_lag_bytes\{node="node2",cluster="pgha"\} \d+/);
    expect(text).toMatch(/pgha_node_timeline\{node="node1",cluster="pgha"\} \d+/);
    expect(text).toMatch(/pgha_queue_jobs\{queue="\{pgha\}\.barman",state="failed",cluster="pgha"\} \d+/);
    expect(text).toMatch(/pgha_queue_jobs\{queue="\{pgha\}\.node\.node1",state="waiting",cluster="pgha"\} \d+/);
    // the steps that completed while the dashboard ran (the API tests' flows)
    const count = (step: string) => Number(new RegExp(`^pgha_step_duration_seconds_count\\{[^}]*step="${step}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(count('barman-backup')).toBeGreaterThanOrEqual(1);
    expect(count('decide-and-start')).toBeGreaterThanOrEqual(1);
    expect(count('promote')).toBe(2); // the two switchovers
    expect(text).toMatch(/pgha_last_backup_age_seconds\{cluster="pgha"\} [\d.]+/);
    expect(text).toContain('pgha_failovers_total{cluster="pgha"} 0');
    expect(text).not.toContain(tc.dashboard().token);
  });
});

describe('in the browser', () => {
  it('the cluster page opened as http://user:token@host/ reads the cluster (its fetches leave the credentials out of the URL)', async () => {
    const ctx = await browser.newContext();
    try {
      const p = await ctx.newPage();
      const u = new URL(base);
      u.username = 'dba';
      u.password = tc.dashboard().token;
      const res = await p.goto(u.toString());
      expect(res!.status()).toBe(200);
      await p.waitForSelector('#nodes g[data-node="node3"]', { timeout: 15_000 });
      await expect(p.locator('#error').textContent()).resolves.toBe('');
      await expect(p.locator('#updated').textContent()).resolves.toMatch(/^updated /);
    } finally {
      await ctx.close();
    }
  });

  it.each(['with the login in the URL (http://user:token@host/queues/)', 'after a login prompt'])(
    'Bull Board opened %s shows its own words, never a raw translation key, from the first paint on',
    async (how) => {
      const inUrl = how.startsWith('with');
      const ctx = await browser.newContext(inUrl ? {} : { httpCredentials: { username: 'dba', password: tc.dashboard().token } });
      try {
        // every text the page shows while it loads is checked, not only the last one
        await ctx.addInitScript((source: string) => {
          const re = new RegExp(source);
          (window as any).rawKeys = [];
          new MutationObserver(() => {
            const m = (document.body?.innerText ?? '').match(re);
            if (m) (window as any).rawKeys.push(m[0]);
          }).observe(document, { subtree: true, childList: true, characterData: true });
        }, RAW_TRANSLATION_KEY.source);
        const p = await ctx.newPage();
        const u = new URL(`${base}/queues/`);
        if (inUrl) {
          u.username = 'dba';
          u.password = tc.dashboard().token;
        }
        await p.goto(u.toString());
        await p.getByText('{pgha}.barman').first().waitFor({ timeout: 15_000 });
        // Bull Board's English for MENU.QUEUES
        await p.getByText('QUEUES', { exact: true }).waitFor({ timeout: 15_000 });
        expect(await p.evaluate(() => (window as any).rawKeys)).toEqual([]);
      } finally {
        await ctx.close();
      }
    },
  );

  it('the cluster page shows node1..3 with their roles, arrows to the upstream, barman and the flows', async () => {
    await page.goto(base);
    await page.waitForSelector('#nodes g[data-node="node3"]');
    await waitFor('roles on the page', async () => {
      const r = await rolesOnPage();
      return r.node1 === 'primary' && r.node2 === 'standby' && r.node3 === 'standby';
    }, 15_000, 200);
    const edges = await page.locator('#edges line').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-from')}->${e.getAttribute('data-to')}`).sort());
    expect(edges).toEqual(['node2->node1', 'node3->node1']);
    await expect(page.locator('#barman-state').textContent()).resolves.toMatch(/streams from\s*node1/);
    await expect(page.locator('#flow-rows tr[data-flow="pgha-first-start-node1"]').getAttribute('data-state')).resolves.toBe('completed');
    await expect(page.locator('#event-rows').textContent()).resolves.toContain('standby_promote'); // the switchovers
    await page.screenshot({ path: join(ARTIFACTS, 'cluster-page.png'), fullPage: true });
    const html = await page.content();
    for (const secret of [tc.dashboard().token, tc.config().repmgr.password, tc.config().postgres.rootPassword]) expect(html).not.toContain(secret);
  });

  it('Bull Board lists every queue and the first-start flow, with its tree across queues, asking nothing of the internet', async () => {
    const outside: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (!r.url().startsWith(base)) outside.push(r.url());
    };
    page.on('request', onRequest);
    await page.goto(`${base}/queues/queue/${encodeURIComponent('{pgha}.node.node1')}?status=completed`);
    for (const q of ['{pgha}.node.node1', '{pgha}.node.node2', '{pgha}.node.node3', '{pgha}.barman', '{pgha}.control']) await page.getByText(q, { exact: true }).first().waitFor();
    await page.getByText('pgha-first-start-node1-start-repmgrd', { exact: true }).waitFor();
    // a step's own page shows the flow it belongs to (the barman steps are on another queue)
    await page.goto(`${base}/queues/queue/${encodeURIComponent('{pgha}.barman')}/pgha-first-start-node1-barman-first-backup`);
    await page.getByText('Job flow').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'bull-board-flow.png') });
    page.off('request', onRequest);
    // Bull Board's own page links web fonts at fonts.googleapis.com; pgha serves it without
    expect(outside).toEqual([]);
  });

  it('a failed step, retried from Bull Board once the cause is fixed: the flow goes on from that step and completes', async () => {
    // the cause: barman's server folder is unreadable, so `barman check` fails on "directories"
    const serverDir = join(tc.config().barman.backupDir, 'pgha');
    const mode = statSync(serverDir).mode & 0o777;
    chmodSync(serverDir, 0o000);
    let flowId: string;
    try {
      flowId = (await post({ scenario: 'backup' })).body.flowId;
      const failed = await waitFor('barman-ready failed for good', async () => {
        const f = (await api(`/api/flows/${flowId}`)).body;
        return f.state === 'failed' ? f : undefined;
      }, 60_000, 300);
      expect(failed.steps[0]).toMatchObject({ step: 'barman-ready', state: 'failed', attemptsMade: 3, failedReason: expect.stringContaining('directories: FAILED') });
      // BullMQ's default: the parent of a failed child waits (it is not failed, nothing after it ran)
      expect(failed.steps[1]).toMatchObject({ step: 'barman-backup', state: 'waiting-children', attemptsMade: 0 });
      await page.goto(base);
      await expect(page.locator(`#flow-rows tr[data-flow="${flowId}"]`).getAttribute('data-state')).resolves.toBe('failed');
    } finally {
      chmodSync(serverDir, mode);
    }
    await page.goto(`${base}/queues/queue/${encodeURIComponent('{pgha}.barman')}/${flowId}-barman-ready`);
    await page.getByText(`${flowId}-barman-ready`).first().waitFor();
    // the job card's first action button is Retry (its tooltip says so)
    const retry = page.locator('button.button-GXX8BV').first();
    await retry.hover();
    await page.getByText('Retry', { exact: true }).waitFor({ timeout: 5000 });
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith(`/${flowId}-barman-ready/retry`)),
      retry.click().then(() => page.getByRole('button', { name: 'Confirm' }).click()),
    ]);
    expect(request.method()).toBe('PUT');
    const done = await flowDone(flowId, 400_000);
    expect(done.steps[0]).toMatchObject({ state: 'completed', attemptsMade: 4 });
    expect(done.steps[1]).toMatchObject({ state: 'completed', attemptsMade: 1 });
  }, 600_000);

  it('a flow that fails while automatic failover is paused: status, the page and the metrics name the flow and its failed step; its retry resumes failover', async () => {
    const config = tc.config();
    const paused = async () => (await api('/api/status')).body.automaticFailover;
    const unpause = () => {
      const p = nodePaths(config, 'node1');
      return execa('runuser', ['-u', 'postgres', '--', 'env', `PGPASSFILE=${p.passfile}`, 'repmgr', '-f', p.repmgrConf, 'service', 'unpause'], { reject: false });
    };
    const metric = async () => Number(/^pgha_automatic_failover_paused\{cluster="pgha"\} (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    expect((await paused()).paused).toBe(false);
    expect(await metric()).toBe(0);
    // a planned operation's shape: pause, a step that fails (barman's folder unreadable), resume
    const serverDir = join(config.barman.backupDir, 'pgha');
    const mode = statSync(serverDir).mode & 0o777;
    const flowId = `pgha-paused-then-failed-${Date.now()}`;
    const data = { cluster: config.cluster, node: 'node1' };
    const onNode1 = nodeQueueName(config.cluster, 'node1');
    chmodSync(serverDir, 0o000);
    let reached = false;
    try {
      await startFlow(config.redis, {
        flowId,
        tree: chainFlow(flowId, [
          { step: 'set-repmgrd-paused', id: 'pause-repmgrd', queueName: onNode1, data: { ...data, paused: true } },
          { step: 'barman-ready', queueName: barmanQueueName(config.cluster), data },
          { step: 'set-repmgrd-paused', id: 'resume-repmgrd', queueName: onNode1, data: { ...data, paused: false } },
        ]),
      }, 'test');
      const state = await waitFor('failover paused by a failed flow', async () => {
        const f = await paused();
        return f.paused && f.by?.state === 'failed' ? f : undefined;
      }, 120_000, 500);
      expect(state).toMatchObject({ pausedOn: ['node1', 'node2', 'node3'], by: { flowId, step: 'barman-ready' } });
      expect(state.message).toContain(`by flow ${flowId}, which FAILED at step barman-ready: retry that step in the dashboard (Bull Board)`);
      const status = await cli(['status', '--dir', tc.dir]);
      expect(status.stdout).toContain(`automatic failover PAUSED (repmgrd paused on node1, node2, node3) since ${state.by.since} by flow ${flowId}, which FAILED at step barman-ready`);
      expect(await metric()).toBe(1);
      await page.goto(base);
      await page.locator('#failover-paused').waitFor({ state: 'visible' });
      await expect(page.locator('#failover-paused').textContent()).resolves.toContain(`by flow ${flowId}, which FAILED at step barman-ready`);
      await page.screenshot({ path: join(ARTIFACTS, 'failover-paused.png') });
      reached = true;
    } finally {
      chmodSync(serverDir, mode);
      if (!reached) await unpause();
    }
    // the retry finishes the flow, whose last step resumes failover: every sign goes back
    const queue = new Queue(barmanQueueName(config.cluster), { connection: redis });
    try {
      await (await queue.getJob(`${flowId}-barman-ready`))!.retry('failed');
      await flowDone(flowId, 300_000);
    } finally {
      await queue.close();
      // never leave failover paused for the next tests, whatever failed above
      await unpause();
    }
    await waitFor('failover on again', async () => !(await paused()).paused, 30_000, 500);
    expect(await metric()).toBe(0);
    await page.locator('#failover-paused').waitFor({ state: 'hidden', timeout: 15_000 });
  }, 600_000);

  it("the page's buttons: each asks a confirmation naming its effect, then starts its flow (backup, switchover to the chosen standby and back, restart, reinit, pause with a reason, resume); a dismissed one starts nothing", async () => {
    await page.goto(base);
    await page.waitForSelector('#switchover-to option', { state: 'attached' });
    const dialogs: string[] = [];
    let accept = true;
    const onDialog = (d: Dialog) => {
      dialogs.push(d.message());
      void (accept ? d.accept() : d.dismiss());
    };
    page.on('dialog', onDialog);
    const option = (select: string, value: string) => waitFor(`${value} in ${select}`, async () => (await page.locator(`${select} option[value="${value}"]`).count()) === 1, 15_000, 200);
    const clickAndFinish = async (button: string) => {
      const before = await page.locator('#action-result').getAttribute('data-flow');
      await page.click(button);
      const id = await waitFor(`a flow started by ${button}`, async () => {
        const f = await page.locator('#action-result').getAttribute('data-flow');
        const text = (await page.locator('#action-result').textContent()) ?? '';
        if (text.startsWith('refused')) throw new Error(text);
        return f && f !== before ? f : undefined;
      }, 15_000, 100);
      return flowDone(id, 300_000);
    };
    try {
      accept = false;
      const flowsBefore = (await api('/api/flows?limit=200')).body.length;
      await page.click('#do-backup');
      await waitFor('the question asked', async () => dialogs.length === 1, 5000, 50);
      expect(dialogs[0]).toBe('Take a full backup now? barman copies the data of the primary while the cluster keeps serving.');
      expect((await api('/api/flows?limit=200')).body.length).toBe(flowsBefore);
      accept = true;
      await clickAndFinish('#do-backup');

      const primary = (await api('/api/status')).body.nodes.find((n: any) => n.role === 'primary').name as string;
      const target = primary === 'node3' ? 'node2' : 'node3';
      await option('#switchover-to', target);
      await page.selectOption('#switchover-to', target);
      await clickAndFinish('#do-switchover');
      expect(dialogs.at(-1)).toBe(`Switch over to ${target}? ${primary} stops cleanly, ${target} is promoted once it has replayed every commit, and ${primary} rejoins as its standby. Writes stop for about a second.`);
      await waitFor(`${target} primary on the page`, async () => (await rolesOnPage())[target] === 'primary', 15_000, 200);

      await option('#restart-node', primary);
      await page.selectOption('#restart-node', primary);
      await clickAndFinish('#do-restart');
      expect(dialogs.at(-1)).toBe(`Restart ${primary}? Automatic failover is paused meanwhile; it serves no reads until it is back.`);

      await option('#reinit-node', primary);
      await page.selectOption('#reinit-node', primary);
      await clickAndFinish('#do-reinit');
      expect(dialogs.at(-1)).toBe(`Reinit ${primary}? Its data directory is moved aside and ${primary} is cloned again from ${target}; the old copy is removed once the new one streams.`);

      await page.fill('#pause-reason', 'page test window');
      await clickAndFinish('#do-pause');
      expect(dialogs.at(-1)).toMatch(/^Pause automatic failover cluster-wide\?/);
      expect((await api('/api/status')).body.automaticFailover.maintenance).toMatchObject({ by: 'the cluster page', reason: 'page test window' });
      await waitFor('the maintenance banner', async () => ((await page.locator('#failover-paused').textContent()) ?? '').includes('(page test window)'), 10_000, 200);
      await clickAndFinish('#do-resume');
      await waitFor('the banner gone', async () => page.locator('#failover-paused').isHidden(), 10_000, 200);

      // back to where the next test starts: the old primary
      await option('#switchover-to', primary);
      await page.selectOption('#switchover-to', primary);
      await clickAndFinish('#do-switchover');
      await waitFor(`${primary} primary on the page`, async () => (await rolesOnPage())[primary] === 'primary', 15_000, 200);
      // the Timelines table names the two switchovers, the current timeline last promoted
      await waitFor('the switchovers in the Timelines table', async () => (await page.locator('#timeline-rows tr[data-why="switchover"]').count()) >= 2, 30_000, 500);
      await page.screenshot({ path: join(ARTIFACTS, 'cluster-page-operations.png'), fullPage: true });
    } finally {
      page.off('dialog', onDialog);
    }
  }, 900_000);

  it("the lag chart: a line for each standby over the last 15 minutes, from the dashboard's own samples", async () => {
    await page.goto(base);
    const standbys = (await api('/api/status')).body.nodes.filter((n: any) => n.role === 'standby').map((n: any) => n.name).sort();
    const lag = await waitFor('two samples of each standby', async () => {
      const l = (await api('/api/lag')).body;
      return l.samples.filter((x: any) => standbys.every((n: string) => typeof x.lag[n] === 'number')).length >= 2 ? l : undefined;
    }, 60_000, 1000);
    expect(lag).toMatchObject({ everyMs: 5000, spanMs: 900_000 });
    // a line for each node that was a standby within the window (the switchovers before made each one), at least for today's standbys
    await waitFor('a line per standby on the page', async () => {
      const lines = new Map(await page.locator('#lag-lines polyline').evaluateAll((els) => els.map((e) => [e.getAttribute('data-node'), Number(e.getAttribute('data-points'))] as [string, number])));
      return standbys.every((n: string) => (lines.get(n) ?? 0) >= 2);
    }, 30_000, 500);
    await expect(page.locator('#lag-legend').textContent()).resolves.toMatch(new RegExp(`${standbys[0]}: \\d+ B now`));
  });

  it('after the primary is killed the page shows the new primary within 10 s, without a reload; health checks flip', async () => {
    await page.goto(base);
    await waitFor('node1 primary on the page', async () => (await rolesOnPage()).node1 === 'primary', 10_000, 200);
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const killedAt = Date.now();
    expect((await cli(['local', 'kill', 'node1', '--dir', tc.dir])).exitCode).toBe(0);
    const roles = await waitFor('a new primary on the page', async () => {
      const r = await rolesOnPage();
      return (r.node2 === 'primary' || r.node3 === 'primary') && r.node1 === 'down' ? r : undefined;
    }, 10_000 - (Date.now() - killedAt), 100);
    const seenAfterMs = Date.now() - killedAt;
    expect(seenAfterMs).toBeLessThanOrEqual(10_000);
    expect(navigations).toEqual([]); // no reload
    const promoted = roles.node2 === 'primary' ? 'node2' : 'node3';
    const other = promoted === 'node2' ? 'node3' : 'node2';
    await page.screenshot({ path: join(ARTIFACTS, 'cluster-page-after-failover.png'), fullPage: true });
    // the killed host answers nothing; the promoted node is /primary; the other follows it
    expect(await health('node1', '/health')).toBe(0);
    await waitFor('health flipped', async () => (await health(promoted, '/primary')) === 200 && (await health(promoted, '/replica')) === 503, 30_000, 300);
    await waitFor(`${other} replica of ${promoted}`, async () => (await health(other, '/replica')) === 200 && (await health(other, '/primary')) === 503, 60_000, 500);
    // the failover is counted and listed
    await waitFor('failover counted', async () => (await (await fetch(`${base}/metrics`)).text()).includes('pgha_failovers_total{cluster="pgha"} 1'), 30_000, 500);
    // either decider may promote: the node workers' detector, or repmgrd when the detector holds back
    // (its own PostgreSQL slow to answer on a busy machine: README, Automatic failover)
    await waitFor('the promotion on the page', async () => {
      const rows = (await page.locator('#event-rows').textContent()) ?? '';
      return FAILOVER_EVENTS.some((e) => rows.includes(e));
    }, 15_000, 300);
    // the old primary comes back as a standby, and its /replica turns 200
    const start = await cli(['local', 'start', 'node1', '--dir', tc.dir], { timeoutMs: 240_000 });
    expect({ code: start.exitCode, out: start.all }).toMatchObject({ code: 0 });
    await waitFor('node1 replica', async () => (await health('node1', '/replica')) === 200 && (await health('node1', '/primary')) === 503, 60_000, 500);
    await waitFor('node1 standby on the page', async () => (await rolesOnPage()).node1 === 'standby', 10_000, 200);
  }, 600_000);
});
