// The dashboard: the cluster page at /, Bull Board at /queues over every queue of the cluster, the REST
// API under /api and Prometheus metrics at /metrics. Everything but /metrics (configurable) asks for
// the token. Started by `pgha dashboard [--config FILE]`.
import express, { type NextFunction, type Request, type Response } from 'express';
import { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { ClusterConfig } from '../src/config/schema.js';
import { ConfigError } from '../src/config/load.js';
import { sleep } from '../src/wait.js';
import { allQueueNames } from '../src/queues.js';
import { redisConnection } from '../src/redis.js';
import { createLogger } from '../src/logger.js';
import { readFlowRecord } from '../src/flows/registry.js';
import { startScenario } from '../src/scenarios.js';
import { runBarmanJob } from '../src/flows/jobs.js';
import type { BackupInfo } from '../src/barman/actions.js';
import { authorized, cookieOf, dashboardToken, SESSION_COOKIE, SESSION_TTL_MS, sessionValue, validSession } from '../src/auth.js';
import { LagHistory, Overview, pageEvents } from './overview.js';
import { createMetrics } from './metrics.js';
import { clusterPage, dashboardTitle, FETCH_WITHOUT_URL_CREDENTIALS, loginPage } from './page.js';

/** How often the lag chart samples each node's lag. */
export const LAG_SAMPLE_MS = 5000;

/** The API's error body. */
const fail = (res: Response, status: number, error: string, details: unknown[] = []) => res.status(status).json({ error, details });

/**
 * Bull Board's page as pgha serves it (pure): without its web-font link (fonts.googleapis.com:
 * database hosts often have no internet, and the page needs none), and with fetch taking the URL
 * without credentials (FETCH_WITHOUT_URL_CREDENTIALS) before Bull Board's scripts run.
 */
export const bullBoardPage = (html: string) =>
  html.replace(/<link[^>]*fonts\.googleapis\.com[^>]*>\s*/g, '').replace(/<\/title>/, `</title>\n${FETCH_WITHOUT_URL_CREDENTIALS}`);

function servedBullBoard(_req: Request, res: Response, next: NextFunction) {
  const render = res.render.bind(res);
  res.render = ((view: string, options?: object) =>
    render(view, options ?? {}, (err: Error | null, html: string) => (err ? next(err) : res.send(bullBoardPage(html))))) as Response['render'];
  next();
}

/**
 * The dashboard's app. `reload` reads the config again from where it came from: `pgha config apply`
 * through the API applies the parameters the file holds now, not those it held when the dashboard started.
 */
export function createDashboard(config: ClusterConfig, o: { reload?: () => ClusterConfig } = {}) {
  const token = dashboardToken(config);
  const logger = createLogger('dashboard');
  const connection = redisConnection(config.redis);
  const queues = allQueueNames(config).map((name) => new Queue(name, { connection }));
  const queueByName = new Map(queues.map((q) => [q.name, q]));
  const queue = (name: string) => {
    if (!queueByName.has(name)) queueByName.set(name, new Queue(name, { connection }));
    return queueByName.get(name)!;
  };
  const overview = new Overview(config, connection, queue);
  const metrics = createMetrics(config, overview, queues);
  // the lag chart's samples: the last 15 minutes, one every LAG_SAMPLE_MS (lost when the dashboard restarts)
  const lag = new LagHistory();
  const lagTimer = setInterval(() => void overview.nodes.get().then((nodes) => lag.add(Date.now(), nodes), () => {}), LAG_SAMPLE_MS);

  const board = new ExpressAdapter();
  board.setBasePath('/queues');
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: config.dashboard.readOnly })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: dashboardTitle(config.cluster) } },
  });

  const app = express();
  /** Sessions ended by log out, until they expire (this process only: a new token ends them all everywhere). */
  const loggedOut = new Map<string, number>();
  app.disable('x-powered-by');
  const requireToken = (req: Request, res: Response, next: NextFunction) => {
    const session = cookieOf(req.headers.cookie, SESSION_COOKIE);
    if (authorized(req.headers.authorization, token) || (validSession(session, token, Date.now()) && !loggedOut.has(session!))) return next();
    // browsers ask for a user name and password: any user name, the token as password
    res.setHeader('WWW-Authenticate', `Basic realm="pgha ${config.cluster}", charset="UTF-8"`);
    // a browser opening the page: the challenge (one that has the token as basic auth's password
    // answers it) with the login form as the body, which one without it shows once its prompt is
    // cancelled; /login serves the form alone
    if (req.method === 'GET' && req.path === '/' && req.accepts(['json', 'html']) === 'html') return res.status(401).type('html').send(loginPage({ cluster: config.cluster }));
    return fail(res, 401, 'authentication required: send Authorization: Bearer <token> (or HTTP basic auth with the token as password)');
  };

  app.get('/metrics', ...(config.dashboard.openMetrics ? [] : [requireToken]), async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // the login form: a browser exchanges the token for a session cookie (HttpOnly: no script reads
  // it; SameSite=Strict: no other site's page sends it, so no cross-site request acts with it)
  app.get('/login', (_req, res) => void res.type('html').send(loginPage({ cluster: config.cluster })));
  app.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const given = typeof req.body?.token === 'string' ? req.body.token : '';
    if (!authorized(`Bearer ${given}`, token)) {
      // a second per wrong guess: guessing stays slow
      await sleep(1000);
      logger.warn(`login refused from ${req.ip}: wrong token`);
      return void res.status(401).type('html').send(loginPage({ cluster: config.cluster, error: 'wrong token' }));
    }
    const expiresAt = Date.now() + SESSION_TTL_MS;
    // Secure behind a TLS proxy too (X-Forwarded-Proto), so the cookie never travels in clear from there
    res.cookie(SESSION_COOKIE, sessionValue(token, expiresAt), { httpOnly: true, sameSite: 'strict', path: '/', maxAge: SESSION_TTL_MS, secure: req.secure || req.get('x-forwarded-proto') === 'https' });
    logger.info(`login from ${req.ip}: session until ${new Date(expiresAt).toISOString()}`);
    return void res.redirect(303, './');
  });
  app.post('/logout', (req, res) => {
    // the cookie is refused by this dashboard from now on, even replayed (a copy taken from the browser)
    const value = cookieOf(req.headers.cookie, SESSION_COOKIE);
    if (value && validSession(value, token, Date.now())) loggedOut.set(value, Number(value.split('.')[0]));
    for (const [v, expiresAt] of loggedOut) if (expiresAt <= Date.now()) loggedOut.delete(v);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, 'login');
  });
  app.use(requireToken);
  // Bull Board's write actions (retry, clean, promote, remove) are its API's non-GET requests
  app.use('/queues/api', (req, res, next) => {
    if (config.dashboard.readOnly && req.method !== 'GET') return fail(res, 403, 'the dashboard is read-only (dashboard.readOnly: true)');
    return next();
  });
  app.use('/queues', servedBullBoard, board.getRouter());

  const api = express.Router();
  api.use(express.json({ limit: '64kb' }));
  api.get('/status', async (_req, res) => {
    res.json(await overview.status());
  });
  api.get('/overview', async (_req, res) => {
    const [status, flows, events] = await Promise.all([overview.status(), overview.recentFlows(30), overview.events.get()]);
    res.json({ status, flows: flows.slice(0, 15).map(({ steps: _steps, ...f }) => f), events: pageEvents(events, flows, 20) });
  });
  api.get('/history', async (_req, res) => {
    res.json(await overview.history.get());
  });
  api.get('/lag', (_req, res) => {
    res.json({ everyMs: LAG_SAMPLE_MS, spanMs: lag.spanMs, samples: lag.get() });
  });
  api.get('/events', async (_req, res) => {
    res.json(await overview.events.get());
  });
  api.get('/backups', async (_req, res) => {
    try {
      const { backups } = await runBarmanJob<{ backups: BackupInfo[] }>(config, 'barman-list-backups', 60_000);
      res.json(backups);
    } catch (err) {
      fail(res, 503, `the barman worker did not answer: ${(err as Error).message}`);
    }
  });
  api.get('/flows', async (req, res) => {
    const limit = Math.min(200, Math.max(1, Number(req.query.limit ?? 50) || 50));
    res.json(await overview.recentFlows(limit));
  });
  api.get('/flows/:id', async (req, res) => {
    const record = await readFlowRecord(connection, config.cluster, String(req.params.id));
    if (!record) return fail(res, 404, `no flow with id ${req.params.id}`, [{ path: 'id', message: 'unknown flow id (GET /api/flows lists the recent ones)' }]);
    return res.json(await overview.flow(record));
  });
  api.post('/flows', async (req, res) => {
    if (config.dashboard.readOnly) return fail(res, 403, 'the dashboard is read-only (dashboard.readOnly: true)');
    let current = config;
    if (req.body?.scenario === 'apply-config' && o.reload) {
      try {
        current = o.reload();
      } catch (err) {
        if (err instanceof ConfigError) return fail(res, 400, `the config file is invalid: ${err.problems.join('; ')}`, err.problems.map((p) => ({ path: p.split(':')[0], message: p.slice(p.indexOf(':') + 1).trim() })));
        throw err;
      }
    }
    const planned = await startScenario(current, connection, req.body ?? {});
    if (!planned.ok) return fail(res, planned.status, planned.error, planned.details);
    logger.info(`flow ${planned.flowId} started from the API: ${planned.summary}`);
    return res.status(201).json({ flowId: planned.flowId, scenario: planned.scenario, summary: planned.summary, steps: `/api/flows/${planned.flowId}` });
  });
  api.use((req, res) => fail(res, 404, `no API endpoint ${req.method} ${req.path}`));
  api.use((err: Error & { type?: string; status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed') return fail(res, 400, 'the body is not valid JSON', [{ path: '(body)', message: err.message }]);
    if (err.status && err.status < 500) return fail(res, err.status, err.message);
    logger.error(`API error: ${err.message}`);
    return fail(res, 500, err.message);
  });
  app.use('/api', api);
  app.get('/', (_req, res) => {
    res.type('html').send(clusterPage({ cluster: config.cluster, readOnly: config.dashboard.readOnly }));
  });

  const close = async () => {
    clearInterval(lagTimer);
    await metrics.close();
    await Promise.all([...queueByName.values()].map((q) => q.close()));
    connection.disconnect();
  };
  return { app, close };
}

/**
 * `pgha dashboard`: serve the dashboard of a resolved config. `ready` rejects when the address cannot
 * be listened on (the port taken: another dashboard runs there); `stop` closes the server and its connections.
 */
export function serveDashboard(config: ClusterConfig, o: { reload?: () => ClusterConfig } = {}): { ready: Promise<void>; stop(): Promise<void> } {
  const logger = createLogger('dashboard');
  const { app, close } = createDashboard(config, o);
  let server: ReturnType<typeof app.listen> | undefined;
  const ready = new Promise<void>((done, fail) => {
    // Express 5 hands a listen error to this callback (it used to be logged as listening)
    server = app.listen(config.dashboard.port, config.dashboard.host, (err?: Error) => {
      if (err) return fail(new Error(`dashboard cannot listen on ${config.dashboard.host}:${config.dashboard.port}: ${err.message}`));
      logger.info(`dashboard on http://${config.dashboard.host}:${config.dashboard.port}/ (pid ${process.pid}${config.dashboard.readOnly ? ', read-only' : ''})`);
      done();
    });
  });
  return { ready, stop: () => new Promise<void>((done) => (server?.listening ? server.close(() => void close().then(done, done)) : void close().then(done, done))) };
}
