import { describe, it, expect, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { authorized, cookieOf, dashboardToken, presentedToken, SESSION_COOKIE, SESSION_TTL_MS, sessionValue, validSession } from '../../src/auth.js';
import { checkFlowRequest, SCENARIOS } from '../../src/scenarios.js';
import { flowRecord } from '../../src/flows/registry.js';
import { flowState, type StepState } from '../../src/flows/run.js';
import { chainFlow } from '../../src/flows/chain.js';
import { LagHistory, pageEvents } from '../../dashboard/overview.js';
import { summarizeFlow } from '../../src/flows/run.js';
import { bullBoardPage } from '../../dashboard/server.js';
import { FETCH_WITHOUT_URL_CREDENTIALS } from '../../dashboard/page.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { backupAgeSeconds } from '../../dashboard/metrics.js';
import { clusterPage, loginPage } from '../../dashboard/page.js';
import { blockingChecks } from '../../jobs/barman-ready.js';
import { stepProgress } from '../../workers/runtime.js';
import { problemsOf, localConfig } from './helpers.js';
import { resolveConfig, maskSecrets } from '../../src/config/load.js';

const TOKEN = 'a'.repeat(20) + 'Token42';
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('dashboard authentication', () => {
  it('accepts the token as a bearer or as basic auth password (any user), nothing else', () => {
    expect(authorized(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(authorized(`bearer  ${TOKEN}`, TOKEN)).toBe(true);
    expect(authorized(basic('dba', TOKEN), TOKEN)).toBe(true);
    expect(authorized(basic('', TOKEN), TOKEN)).toBe(true);
    expect(authorized(undefined, TOKEN)).toBe(false);
    expect(authorized('', TOKEN)).toBe(false);
    expect(authorized(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(authorized(`Bearer ${TOKEN.slice(1)}`, TOKEN)).toBe(false);
    expect(authorized(basic(TOKEN, 'nope'), TOKEN)).toBe(false);
    expect(authorized(`Token ${TOKEN}`, TOKEN)).toBe(false);
    expect(presentedToken(basic('u', 'p:with:colons'))).toBe('p:with:colons');
    expect(presentedToken('Basic !!!')).toBeNull();
  });

  const dir = mkdtempSync(join(tmpdir(), 'pgha-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the token from dashboard.token or tokenFile; refuses to run without one, with how to set it', () => {
    expect(dashboardToken(localConfig({ dashboard: { token: TOKEN } }))).toBe(TOKEN);
    expect(() => dashboardToken(localConfig())).toThrow(/dashboard\.token: not set.*PGHA_DASHBOARD_TOKEN.*openssl rand -hex 24/);
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 });
    expect(dashboardToken(localConfig({ dashboard: { tokenFile: file } }))).toBe(TOKEN);
    chmodSync(file, 0o644);
    expect(() => dashboardToken(localConfig({ dashboard: { tokenFile: file } }))).toThrow(`dashboard.tokenFile: ${file} is readable by others; chmod 600 ${file}`);
    writeFileSync(file, 'short\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    expect(() => dashboardToken(localConfig({ dashboard: { tokenFile: file } }))).toThrow(/at least 16 characters/);
    expect(() => dashboardToken(localConfig({ dashboard: { tokenFile: join(dir, 'missing') } }))).toThrow(/cannot read .*missing \(ENOENT\)/);
  });

  it('config: a short token, both token and tokenFile, the token masked on output and from PGHA_DASHBOARD_TOKEN', () => {
    expect(problemsOf(() => resolveConfig({ mode: 'local', nodes: [{ name: 'n1', host: 'h1', master: true }], dashboard: { token: 'short' } }, {}))).toEqual([
      'dashboard.token: must be at least 16 characters (openssl rand -hex 24) (got ****)',
    ]);
    expect(problemsOf(() => resolveConfig({ mode: 'local', nodes: [{ name: 'n1', host: 'h1', master: true }], dashboard: { token: TOKEN, tokenFile: '/x' } }, {}))).toEqual([
      'dashboard.tokenFile: set either dashboard.token or dashboard.tokenFile, not both (got "/x")',
    ]);
    const c = resolveConfig({ mode: 'local', nodes: [{ name: 'n1', host: 'h1', master: true }] }, { PGHA_DASHBOARD_TOKEN: TOKEN }).config;
    expect(c.dashboard.token).toBe(TOKEN);
    expect(maskSecrets(c).dashboard.token).toBe('****');
    expect(c.dashboard).toMatchObject({ host: '127.0.0.1', readOnly: false, openMetrics: true });
    expect(c.health).toEqual({ port: 8008, open: true });
  });
});

describe('POST /api/flows request check', () => {
  const config = localConfig();
  const refused = (body: unknown) => {
    const r = checkFlowRequest(config, body);
    if (r.ok) throw new Error(`accepted: ${JSON.stringify(body)}`);
    return { status: r.status, details: r.details };
  };

  it('accepts every scenario the CLI can start', () => {
    expect(SCENARIOS).toEqual(['first-start', 'restart', 'failover', 'switchover', 'backup', 'restore', 'pause', 'resume', 'reinit', 'apply-config']);
    for (const scenario of ['first-start', 'restart', 'failover', 'switchover', 'reinit']) expect(checkFlowRequest(config, { scenario, node: 'node2' })).toMatchObject({ ok: true, scenario, node: 'node2' });
    expect(checkFlowRequest(config, { scenario: 'backup' })).toEqual({ ok: true, scenario: 'backup', node: undefined, restore: undefined, force: undefined, maintenance: undefined });
    expect(checkFlowRequest(config, { scenario: 'restore', params: { confirm: true } })).toEqual({
      ok: true, scenario: 'restore', node: undefined, restore: { backup: 'latest', target: { kind: 'latest' } }, force: undefined, maintenance: undefined,
    });
    expect(checkFlowRequest(config, { scenario: 'restore', node: 'node2', params: { confirm: true, backup: '20261126T100000', targetTime: '2026-11-26 12:00:00+00' } })).toMatchObject({
      ok: true, restore: { backup: '20261126T100000', target: { kind: 'time', time: '2026-11-26 12:00:00+00' } },
    });
  });

  it('names the field of every problem, 400', () => {
    expect(refused({})).toEqual({ status: 400, details: [{ path: 'scenario', message: expect.stringContaining('must be one of first-start, restart') }] });
    expect(refused({ scenario: 'reboot', node: 'node1' }).details).toEqual([{ path: 'scenario', message: expect.stringContaining('must be one of') }]);
    expect(refused({ scenario: 'restart' }).details).toEqual([{ path: 'node', message: 'restart needs a node, one of node1, node2, node3' }]);
    expect(refused({ scenario: 'restart', node: 'node9' }).details).toEqual([{ path: 'node', message: 'unknown node "node9", known: node1, node2, node3' }]);
    expect(refused({ scenario: 'restart', node: 3 }).details).toEqual([{ path: 'node', message: expect.stringMatching(/expected string/) }]);
    expect(refused({ scenario: 'backup', node: 'node1' }).details).toEqual([{ path: 'node', message: 'backup takes no node' }]);
    expect(refused({ scenario: 'backup', params: { x: 1 } }).details).toEqual([{ path: 'params', message: 'backup takes no params (only restore, failover, pause, resume do)' }]);
    expect(refused({ scenario: 'backup', extra: true }).details).toEqual([{ path: '(body)', message: 'unknown field(s) extra' }]);
    expect(refused('backup').details).toEqual([{ path: '(body)', message: expect.stringMatching(/expected object/) }]);
    expect(refused(null).status).toBe(400);
  });

  it('pause takes a reason and who asked (the API by default), resume force; both no node; reinit needs one', () => {
    expect(checkFlowRequest(config, { scenario: 'pause', params: { reason: 'kernel upgrade', by: 'dba@host' } })).toMatchObject({ ok: true, scenario: 'pause', maintenance: { by: 'dba@host', reason: 'kernel upgrade' } });
    expect(checkFlowRequest(config, { scenario: 'pause' })).toMatchObject({ ok: true, maintenance: { by: 'the REST API', reason: null } });
    expect(checkFlowRequest(config, { scenario: 'resume', params: { force: true } })).toMatchObject({ ok: true, scenario: 'resume', force: true, maintenance: { by: 'the REST API' } });
    expect(refused({ scenario: 'pause', node: 'node1' }).details).toEqual([{ path: 'node', message: 'pause takes no node' }]);
    expect(refused({ scenario: 'pause', params: { reason: 'x'.repeat(501) } }).details).toEqual([{ path: 'params.reason', message: expect.stringMatching(/500/) }]);
    expect(refused({ scenario: 'resume', params: { force: 'yes' } }).details).toEqual([{ path: 'params.force', message: expect.stringMatching(/expected boolean/) }]);
    expect(refused({ scenario: 'resume', params: { reason: 'x' } }).details).toEqual([{ path: 'params', message: 'unknown field(s) reason' }]);
    expect(refused({ scenario: 'reinit' }).details).toEqual([{ path: 'node', message: 'reinit needs a node, one of node1, node2, node3' }]);
    expect(refused({ scenario: 'reinit', node: 'node2', params: { force: true } }).details).toEqual([{ path: 'params', message: expect.stringMatching(/reinit takes no params/) }]);
    // the parameters come from the config file only: a request cannot hand PostgreSQL settings (some run commands)
    expect(refused({ scenario: 'apply-config', params: { parameters: { archive_cleanup_command: 'x' } } }).details).toEqual([{ path: 'params', message: expect.stringMatching(/^apply-config takes no params/) }]);
    expect(checkFlowRequest(config, { scenario: 'apply-config' })).toMatchObject({ ok: true, parameters: { values: config.postgres.parameters, path: 'postgres.parameters' } });
  });

  it('a failover takes params.force, a boolean, and nothing else', () => {
    expect(checkFlowRequest(config, { scenario: 'failover', node: 'node2', params: { force: true } })).toMatchObject({ ok: true, scenario: 'failover', node: 'node2', force: true });
    expect(checkFlowRequest(config, { scenario: 'failover', node: 'node2' })).toMatchObject({ ok: true, force: undefined });
    expect(refused({ scenario: 'failover', node: 'node2', params: { force: 'yes' } }).details).toEqual([{ path: 'params.force', message: expect.stringMatching(/expected boolean/) }]);
    expect(refused({ scenario: 'failover', node: 'node2', params: { forse: true } }).details).toEqual([{ path: 'params', message: 'unknown field(s) forse' }]);
  });

  it('a restore needs params.confirm true and at most one valid target', () => {
    expect(refused({ scenario: 'restore' }).details).toEqual([{ path: 'params.confirm', message: expect.stringContaining('must be true') }]);
    expect(refused({ scenario: 'restore', params: { confirm: 'yes' } }).details).toEqual([{ path: 'params.confirm', message: expect.stringMatching(/expected boolean/) }]);
    expect(refused({ scenario: 'restore', params: { confirm: false } }).details[0].path).toBe('params.confirm');
    expect(refused({ scenario: 'restore', params: { confirm: true, target: 'latest' } }).details).toEqual([{ path: 'params.target', message: 'the only named target is "immediate" (got latest)' }]);
    expect(refused({ scenario: 'restore', params: { confirm: true, targetTime: 't', targetLsn: '0/1' } }).details[0].path).toBe('params.targetLsn');
    expect(refused({ scenario: 'restore', params: { confirm: true, backupp: 'x' } }).details).toEqual([{ path: 'params', message: 'unknown field(s) backupp' }]);
    expect(refused({ scenario: 'restore', node: 'node7', params: { confirm: true } }).details).toEqual([{ path: 'node', message: expect.stringContaining('unknown node "node7"') }]);
  });
});

describe('flow records and summaries', () => {
  const config = localConfig();
  const tree = chainFlow('pgha-backup-1', [
    { step: 'barman-ready', queueName: '{pgha}.barman', data: { cluster: config.cluster, node: 'node1' } },
    { step: 'barman-backup', queueName: '{pgha}.barman', data: { cluster: config.cluster, node: 'node1' } },
  ]);
  const st = (step: string, state: string, extra: Partial<StepState> = {}): StepState => ({ flowId: 'pgha-backup-1', step, queueName: '{pgha}.barman', jobId: `pgha-backup-1-${step}`, state, attemptsMade: 0, ...extra });

  it('a record lists the steps in the order they run, with their queues and job ids', () => {
    expect(flowRecord('pgha-backup-1', 'backup', tree, new Date('2026-11-26T12:00:00Z'))).toEqual({
      flowId: 'pgha-backup-1',
      scenario: 'backup',
      createdAt: '2026-11-26T12:00:00.000Z',
      steps: [
        { step: 'barman-ready', queueName: '{pgha}.barman', jobId: 'pgha-backup-1-barman-ready' },
        { step: 'barman-backup', queueName: '{pgha}.barman', jobId: 'pgha-backup-1-barman-backup' },
      ],
    });
  });

  it('one word for a flow: failed wins, then running, completed only when all are', () => {
    expect(flowState([{ state: 'completed' }, { state: 'completed' }])).toBe('completed');
    expect(flowState([{ state: 'completed' }, { state: 'waiting-children' }])).toBe('running');
    expect(flowState([{ state: 'active' }, { state: 'waiting-children' }])).toBe('running');
    expect(flowState([{ state: 'waiting' }, { state: 'waiting-children' }])).toBe('waiting');
    expect(flowState([{ state: 'failed' }, { state: 'waiting-children' }])).toBe('failed');
    expect(flowState([{ state: 'completed' }, { state: 'missing' }])).toBe('failed');
  });

  it('the current step is the failed one, else the first not completed', () => {
    const record = flowRecord('pgha-backup-1', 'backup', tree);
    expect(summarizeFlow(record, [st('barman-ready', 'completed'), st('barman-backup', 'active')])).toMatchObject({ state: 'running', currentStep: 'barman-backup', done: 1, total: 2 });
    expect(summarizeFlow(record, [st('barman-ready', 'failed', { failedReason: 'x' }), st('barman-backup', 'waiting-children')])).toMatchObject({ state: 'failed', currentStep: 'barman-ready', done: 0 });
    expect(summarizeFlow(record, [st('barman-ready', 'completed'), st('barman-backup', 'completed')])).toMatchObject({ state: 'completed', currentStep: null, done: 2 });
  });
});

describe("the page's event list", () => {
  it("keeps repmgr's significant events and the finished operations, newest first, without the routine ones", () => {
    const ev = (at: string, event: string, node = 'node1') => ({ at, node, event, success: true });
    const flow = (createdAt: string, scenario: string, state: 'completed' | 'failed' | 'running') =>
      ({ flowId: `pgha-${scenario}-${createdAt}`, scenario, createdAt, state, currentStep: null, done: 1, total: 1, steps: [] });
    const list = pageEvents(
      [ev('2026-11-26T10:00:01Z', 'repmgrd_start'), ev('2026-11-26T10:00:02Z', 'repmgrd_failover_promote', 'node2'), ev('2026-11-26T10:00:03Z', 'standby_follow', 'node3'), ev('2026-11-26T10:00:04Z', 'child_node_new_connect'), ev('2026-11-26T10:00:05Z', 'node_rejoin')],
      [flow('2026-11-26T10:00:06Z', 'backup', 'completed'), flow('2026-11-26T10:00:07Z', 'restore', 'failed'), flow('2026-11-26T10:00:08Z', 'backup', 'running'), flow('2026-11-26T09:00:00Z', 'first-start', 'completed')],
      10,
    );
    expect(list.map((e) => `${e.event} ${e.success ? 'ok' : 'FAILED'}`)).toEqual(['restore flow FAILED', 'backup flow ok', 'node_rejoin ok', 'standby_follow ok', 'repmgrd_failover_promote ok']);
    expect(list[0].flow).toBe('pgha-restore-2026-11-26T10:00:07Z');
    expect(pageEvents([ev('2026-11-26T10:00:02Z', 'standby_promote'), ev('2026-11-26T10:00:03Z', 'standby_follow')], [], 1).map((e) => e.event)).toEqual(['standby_follow']);
  });
});

describe('small pieces', () => {
  it('backup age from its end time', () => {
    expect(backupAgeSeconds('2026-11-26T12:00:00Z', Date.parse('2026-11-26T12:01:30Z'))).toBe(90);
    expect(backupAgeSeconds(null)).toBeNull();
    expect(backupAgeSeconds('garbage')).toBeNull();
  });

  it("step progress is Bull Board's { progress, label }, clamped", () => {
    expect(stepProgress(42.4, 'barman backup')).toEqual({ progress: 42, label: 'barman backup' });
    expect(stepProgress(140, 'x').progress).toBe(100);
    expect(stepProgress(-3, 'x').progress).toBe(0);
  });

  it('barman-ready blocks on checks a backup needs, not on the ones a backup cures', () => {
    const out = [
      'Server pgha:',
      '\tPostgreSQL: OK',
      '\tdirectories: FAILED (/x/base: Permission denied)',
      '\tminimum redundancy requirements: FAILED (have 0 backups, expected at least 1)',
      '\tbackup maximum age: FAILED (interval provided: 1 day, latest backup age: No available backups)',
      '\treceive-wal running: FAILED (See the Barman log file for more details)',
    ].join('\n');
    expect(blockingChecks(out)).toEqual(['directories: FAILED (/x/base: Permission denied)', 'receive-wal running: FAILED (See the Barman log file for more details)']);
    expect(blockingChecks('Server pgha:\n\tPostgreSQL: OK\n')).toEqual([]);
  });

  it('the cluster page is one document that escapes the cluster name and carries no config value', () => {
    const html = clusterPage({ cluster: 'pg<script>', readOnly: true });
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('<title>pgha · pgscript</title>');
    expect(clusterPage({ cluster: 'pgha', readOnly: false })).toContain('<title>pgha</title>');
    expect(clusterPage({ cluster: 'pgha', readOnly: false })).not.toContain('pgha · pgha');
    expect(html).toContain('read-only');
    expect(html).toMatch(/setInterval\(refresh, 1500\)/); // refreshes by itself, under 2 s
  });
});

describe("Bull Board's page as pgha serves it", () => {
  const template = readFileSync(createRequire(import.meta.url).resolve('@bull-board/ui/dist/index.ejs'), 'utf8');
  it('the installed Bull Board template loses its fonts.googleapis.com link and nothing else of its own', () => {
    expect(template).toContain('fonts.googleapis.com');
    const out = bullBoardPage(template);
    expect(out).not.toContain('googleapis');
    expect(out.replace(FETCH_WITHOUT_URL_CREDENTIALS, '').length - template.length).toBeLessThan(0);
    expect(template.length - out.replace(FETCH_WITHOUT_URL_CREDENTIALS, '').length).toBeLessThan(250);
    expect(out).toContain('static/css/main.');
    expect(out).toContain('<div id="root">');
  });
  it("fetch's URL shim comes before Bull Board's scripts (its locale is fetched by the first of them)", () => {
    const out = bullBoardPage(template);
    expect(out.indexOf(FETCH_WITHOUT_URL_CREDENTIALS)).toBeGreaterThan(out.indexOf('<base href'));
    expect(out.indexOf(FETCH_WITHOUT_URL_CREDENTIALS)).toBeLessThan(out.indexOf('<script defer'));
  });
});

describe('the login session (src/auth.ts)', () => {
  const token = 'a-token-of-at-least-16-chars';
  const now = 1_800_000_000_000;

  it('a session is valid for its token until it expires; a forged, altered, expired or other-token one is not', () => {
    const v = sessionValue(token, now + SESSION_TTL_MS);
    expect(v).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect(v).not.toContain(token);
    expect(validSession(v, token, now)).toBe(true);
    expect(validSession(v, token, now + SESSION_TTL_MS)).toBe(false);
    expect(validSession(v, 'another-token-of-16-chars', now)).toBe(false);
    // a later expiry written by hand does not carry its MAC
    expect(validSession(v.replace(/^\d+/, String(now + 10 * SESSION_TTL_MS)), token, now)).toBe(false);
    expect(validSession(`${now + 1000}.${'A'.repeat(43)}`, token, now)).toBe(false);
    expect(validSession(null, token, now)).toBe(false);
    expect(validSession('garbage', token, now)).toBe(false);
  });

  it('reads a cookie out of a Cookie header', () => {
    expect(cookieOf('a=1; pgha_session=123.abc; b=2', SESSION_COOKIE)).toBe('123.abc');
    expect(cookieOf('xpgha_session=1', SESSION_COOKIE)).toBeNull();
    expect(cookieOf(undefined, SESSION_COOKIE)).toBeNull();
  });

  it('the login page posts the token to login, says a wrong one, and carries no secret', () => {
    const html = loginPage({ cluster: 'pgha', error: 'wrong token' });
    expect(html).toContain('<form method="post" action="login">');
    expect(html).toContain('name="token" type="password"');
    expect(html).toContain('<div id="login-error" class="bad" role="alert">wrong token</div>');
    expect(loginPage({ cluster: 'pgha' })).not.toContain('login-error');
  });
});

describe('the cluster page: operations and the lag chart', () => {
  it('the operations are on the page unless read-only; the page script parses', () => {
    const rw = clusterPage({ cluster: 'pgha', readOnly: false });
    for (const id of ['do-switchover', 'do-backup', 'do-restart', 'do-reinit', 'do-pause', 'do-resume']) expect(rw).toContain(`<button id="${id}">`);
    const ro = clusterPage({ cluster: 'pgha', readOnly: true });
    expect(ro).not.toContain('id="actions"');
    expect(ro).not.toMatch(/<button id="do-/);
    for (const html of [rw, ro]) for (const script of html.split('<script>').slice(1).map((x) => x.split('</script>')[0]!)) expect(() => new Function(script)).not.toThrow();
  });

  it('LagHistory keeps a sample of each standby\'s lag over its span, primaries and down nodes as null', () => {
    const h = new LagHistory(60_000);
    const nodes = (lag: number) => [
      { name: 'node1', role: 'primary', lagBytes: 0 },
      { name: 'node2', role: 'standby', lagBytes: lag },
      { name: 'node3', role: 'down', lagBytes: null },
    ];
    h.add(0, nodes(5));
    h.add(30_000, nodes(7));
    h.add(70_000, nodes(9));
    expect(h.get()).toEqual([
      { at: 30_000, lag: { node1: null, node2: 7, node3: null } },
      { at: 70_000, lag: { node1: null, node2: 9, node3: null } },
    ]);
  });
});
