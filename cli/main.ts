// `pgha`: the command line and the entry point of every pgha process (workers, dashboard, hooks).
// Every command uses the same flow builders and readers as the workers (src/).
import { Command } from 'commander';
import { wholeNumber } from './args.js';
import type { LoadedConfig } from '../src/config/load.js';
import { LOCAL_DEFAULTS } from '../src/config/paths.js';
import { shellQuote } from '../src/cli-entry.js';
import type { Service } from '../workers/runtime.js';
// Everything else is imported by the command that uses it: repmgr runs this entry for each of its
// hooks (event, validate-promotion, fence-backstop), a dozen times in a bootstrap, and each one
// loading the whole CLI cost about half a second of CPU (measured 2026-12-02).

const int = (name: string) => wholeNumber(name);

const DIR_HELP = `local cluster folder (default: PGHA_CONFIG, else in a container with PGHA_NODES the PGHA_* variables, else ${LOCAL_DEFAULTS.dir})`;
const CONFIG_HELP = 'pgha.yaml (default: --dir, else PGHA_CONFIG, else PGHA_* variables alone when PGHA_NODES is set, else .pgha/pgha.yaml)';

/** The config of a command, by the one rule (configSource in src/config/load.ts). */
const configLoader = () => import('../src/config/load.js');
const loadConfig = async (opts: { config?: string; dir?: string }) => (await configLoader()).loadConfig(opts);
const configFrom = async (opts: { config?: string; dir?: string }) => (await loadConfig(opts)).config;

/**
 * A long-running process (worker, dashboard): its config by the same rule, warnings logged. On
 * SIGTERM or SIGINT, from its first moment on, `stop` runs once and the process exits 0; a stop that
 * cannot finish (Redis gone: BullMQ's close waits for it) ends the process 10 s after the grace
 * period, exit 1. A start that fails (`ready` rejects) is stopped the same way, exit 1.
 */
async function runUntilSignal(role: string, loaded: LoadedConfig, start: () => Service): Promise<void> {
  // the handlers first: a signal that comes while the process still loads is acted on once it runs
  let service: Service | undefined;
  let pending: string | undefined;
  let stop = (reason: string, _code: number) => void (pending = reason);
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  // loaded here, not at the top: the hooks repmgr runs (event, validate-promotion) start faster without it
  const { SHUTDOWN_GRACE_MS } = await import('../workers/runtime.js');
  const { createLogger } = await import('../src/logger.js');
  const logger = createLogger(role);
  for (const w of loaded.warnings) logger.warn(w);
  let stopping = false;
  stop = (reason, code) => {
    if (stopping || !service) return;
    stopping = true;
    setTimeout(() => {
      logger.error(`${reason}: not stopped ${SHUTDOWN_GRACE_MS / 1000 + 10} s later; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 10_000).unref();
    void service.stop(reason).then(
      () => process.exit(code),
      (err) => {
        logger.error(`${reason}: stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  service = start();
  if (pending) stop(pending, 0);
  return service.ready.catch((err) => {
    logger.error(`${role} could not start: ${(err as Error).message}`);
    stop('start-up failure', 1);
  });
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('pgha').description('highly available PostgreSQL clusters (repmgr + barman) as BullMQ flows');
  program.showHelpAfterError();

  const config = program.command('config').description('the cluster file pgha.yaml');
  config
    .command('check')
    .argument('[file]', 'pgha.yaml to check (default: the config the other commands would use)')
    .option('--env', 'the PGHA_* environment variables: over FILE, or alone without it')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .description('validate; print every problem as path.to.field: what is wrong (got X), exit 2; or the resolved config, secrets masked')
    .action(async (file: string | undefined, o: { env?: boolean; dir?: string; config?: string }) => {
      const { ConfigError, loadConfig, maskSecrets, resolveConfig } = await configLoader();
      const { stringify } = await import('yaml');
      try {
        // FILE alone unless --env; --env alone: the variables; else the one rule, variables included
        const loaded = file
          ? loadConfig({ config: file }, o.env ? process.env : {})
          : o.env && !o.dir && !o.config
            ? resolveConfig({}, process.env)
            : loadConfig(o);
        for (const w of loaded.warnings) console.error(`warning: ${w}`);
        // postgres.parameters against PostgreSQL's own catalogue, read on a node that answers
        if (Object.keys(loaded.config.postgres.parameters).length) {
          const { readCatalogue } = await import('../src/postgres/actions.js');
          const { checkParameters } = await import('../src/postgres/parameters.js');
          const catalogue = await readCatalogue(loaded.config);
          if (!catalogue) console.error("warning: postgres.parameters: not checked against PostgreSQL's pg_settings, no node answers (pgha config apply checks them before it changes anything)");
          else {
            const problems = checkParameters(loaded.config.postgres.parameters, catalogue.settings);
            if (problems.length) throw new ConfigError(problems.map((p) => `${p.path}: ${p.message}`));
          }
        }
        process.stdout.write(stringify(maskSecrets(loaded.config)));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const p of err.problems) console.error(p);
        process.exitCode = 2;
      }
    });

  config
    .command('apply')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .description("roll postgres.parameters out: checked against PostgreSQL's pg_settings first (exit 2, nothing touched, on a problem); written on every node and reloaded; parameters that need a restart restart each standby in turn, then the primary through a switchover and back")
    .action(async (o) => {
      const { runApplyConfig } = await import('./operations.js');
      process.exitCode = await runApplyConfig(await configFrom(o));
    });

  const local = program.command('local').description('a whole cluster on this machine (no Docker)');
  local
    .command('up')
    .description('start redis, node workers, barman worker, dashboard; run the first-start flows; exit 0 when all completed')
    .option('--nodes <n>', 'number of PostgreSQL nodes', int('--nodes'), LOCAL_DEFAULTS.nodes)
    .option('--dir <dir>', 'state folder', LOCAL_DEFAULTS.dir)
    .option('--base-ip <ip>', 'address of node1; the next nodes count up', LOCAL_DEFAULTS.baseIp)
    .option('--redis-port <port>', 'port of the private redis-server', int('--redis-port'), LOCAL_DEFAULTS.redisPort)
    .option('--dashboard-port <port>', 'port of the dashboard', int('--dashboard-port'), LOCAL_DEFAULTS.dashboardPort)
    .option('--cluster <name>', 'cluster name', LOCAL_DEFAULTS.cluster)
    .action(async (o) => {
      const { localUp } = await import('../src/local/cluster.js');
      process.exitCode = await localUp({ ...o });
    });
  local
    .command('kill')
    .argument('<node>', 'node name')
    .option('--dir <dir>', 'state folder', LOCAL_DEFAULTS.dir)
    .description('the host dies: kill -9 its PostgreSQL, repmgrd and node worker')
    .action(async (node: string, o) => {
      const { localKill } = await import('../src/local/hosts.js');
      process.exitCode = await localKill(o.dir, node);
    });
  for (const [verb, signal, what] of [
    ['pause', 'SIGSTOP', 'the host freezes: SIGSTOP to its PostgreSQL (every backend), repmgrd and node worker'],
    ['resume', 'SIGCONT', 'the frozen host runs again: SIGCONT to every process local pause stopped'],
  ] as const) {
    local
      .command(verb)
      .argument('<node>', 'node name')
      .option('--dir <dir>', 'state folder', LOCAL_DEFAULTS.dir)
      .description(what)
      .action(async (node: string, o) => {
        const { localFreeze } = await import('../src/local/hosts.js');
        process.exitCode = (await localFreeze(o.dir, node, signal)) > 0 ? 0 : 1;
      });
  }
  local
    .command('start')
    .argument('<node>', 'node name')
    .option('--dir <dir>', 'state folder', LOCAL_DEFAULTS.dir)
    .description('the host boots: start its node worker, which decides the role; exit 0 once it runs in it, 1 with the reason')
    .action(async (node: string, o) => {
      const { localStart } = await import('../src/local/hosts.js');
      process.exitCode = await localStart(o.dir, node);
    });
  local
    .command('down')
    .description('stop everything the local cluster started, by pid')
    .option('--dir <dir>', 'state folder', LOCAL_DEFAULTS.dir)
    .action(async (o) => {
      const { localDown } = await import('../src/local/cluster.js');
      process.exitCode = await localDown(o.dir);
    });

  program
    .command('status')
    .description('the topology read live from the nodes, and barman backups')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .option('--json', 'machine-readable output (a stable interface)')
    .action(async (o) => {
      const { describeSource } = await configLoader();
      const { readStatus } = await import('../src/status.js');
      const { formatStatusTable } = await import('./status-table.js');
      const { config, source } = await loadConfig(o);
      const status = await readStatus(config);
      console.log(o.json ? JSON.stringify(status, null, 2) : formatStatusTable(status));
      if (status.redis?.ok === false) {
        const start = config.mode === 'local' ? `start the cluster with \`pgha local up${o.dir ? ` --dir ${shellQuote(o.dir)}` : ''}\`, or ` : '';
        console.error(`pgha status: ${status.redis.error}: ${start}check redis in ${describeSource(source)} (the nodes above were read directly)`);
        process.exit(1);
      }
      // connections left retrying a Redis that is down must not keep the command alive
      process.exit(0);
    });

  const worker = program.command('worker').description('run a worker on this host (containers, VMs, local mode)');
  worker
    .command('node')
    .requiredOption('--name <node>', 'the node this host runs (consumes only its queue)')
    .option('--config <file>', CONFIG_HELP)
    .option('--dir <dir>', DIR_HELP)
    .description('the worker of a PostgreSQL host')
    .action(async (o) => {
      const { startNodeWorker } = await import('../workers/node-worker.js');
      const loaded = await loadConfig(o);
      await runUntilSignal(`node-worker[${o.name}]`, loaded, () => startNodeWorker(loaded.config, o.name));
    });
  worker
    .command('barman')
    .option('--config <file>', CONFIG_HELP)
    .option('--dir <dir>', DIR_HELP)
    .description('the worker of the barman host')
    .action(async (o) => {
      const { startBarmanWorker } = await import('../workers/barman-worker.js');
      const loaded = await loadConfig(o);
      await runUntilSignal('barman-worker', loaded, () => startBarmanWorker(loaded.config));
    });
  worker
    .command('control')
    .option('--config <file>', CONFIG_HELP)
    .option('--dir <dir>', DIR_HELP)
    .description('the control worker: repmgr events and the flows they start')
    .action(async (o) => {
      const { startControlWorker } = await import('../workers/control-worker.js');
      const loaded = await loadConfig(o);
      await runUntilSignal('control-worker', loaded, () => startControlWorker(loaded.config));
    });
  program
    .command('event')
    .description("repmgr's event_notification_command: record the event on the control queue (runs as postgres)")
    .requiredOption('--redis-file <file>', 'file holding the Redis settings (JSON, written by the node worker)')
    .requiredOption('--cluster <name>', 'cluster name')
    .requiredOption('--node-id <id>', 'repmgr node id (%n)', int('--node-id'))
    .requiredOption('--event <event>', 'event name (%e)')
    .requiredOption('--success <0|1>', 'success (%s)')
    .option('--at <time>', "when it happened, repmgr's timestamp (%t); default: now")
    .action(async (o) => {
      const { recordEvent } = await import('../src/events.js');
      // repmgr runs this hook: never hang it on a Redis that is down
      setTimeout(() => {
        console.error('pgha event: Redis did not answer within 10 s; event not recorded');
        process.exit(1);
      }, 10_000).unref();
      await recordEvent(o);
    });
  program
    .command('validate-promotion')
    .description("repmgrd's failover_validation_command: exit 0 when the promotion rule lets NODE be promoted now (its siblings are then detached from their upstream), 1 with the reason (runs as postgres)")
    .requiredOption('--node <name>', 'the promotion candidate (this node)')
    .requiredOption('--nodes <list>', 'every node of the cluster: NAME=HOST,NAME=HOST,…')
    .requiredOption('--port <port>', "the nodes' PostgreSQL port", int('--port'))
    .requiredOption('--passfile <file>', "libpq passfile holding the repmgr role's password")
    .option('--timeout-ms <ms>', 'how long one node may take to answer', int('--timeout-ms'), 1500)
    .option('--redis-file <file>', "the cluster's Redis settings (JSON): the failover is claimed there first, so that a node worker's detector and repmgrd never both promote")
    .option('--cluster <name>', 'the cluster name (with --redis-file)')
    .action(async (o) => {
      const { checkPromotion, parseNodeList, passfileConnect } = await import('../src/repmgr/validate.js');
      let claim: ReturnType<typeof import('../src/flows/registry.js').failoverClaim> | undefined;
      if (o.redisFile && o.cluster) {
        try {
          const { failoverClaim } = await import('../src/flows/registry.js');
          const { RedisSchema } = await import('../src/config/redis-schema.js');
          const { readFileSync } = await import('node:fs');
          claim = failoverClaim(RedisSchema.parse(JSON.parse(readFileSync(o.redisFile, 'utf8'))), o.cluster, `repmgrd:${o.node}`, (l) => console.log(l));
        } catch (err) {
          // repmgrd is the backstop: a missing or broken file must not keep it from promoting
          console.log(`${o.redisFile} unreadable (${(err as Error).message}): the failover is not claimed`);
        }
      }
      const d = await checkPromotion({ candidate: o.node, nodes: parseNodeList(o.nodes), connect: passfileConnect(o.port, o.passfile, o.timeoutMs), log: (l) => console.log(l), ...(claim ?? {}) });
      // repmgrd copies this output into its log
      console.log(`pgha promotion rule: ${d.ok ? 'allowed' : 'REFUSED'}: ${d.reason}`);
      process.exitCode = d.ok ? 0 : 1;
    });
  program
    .command('fence-backstop')
    .description("repmgrd's child_nodes_disconnect_command (runs as postgres, in the background): stops this primary's PostgreSQL only when no majority of the cluster answers, or a node writes on a newer timeline; watches until a standby streams from it again")
    .requiredOption('--node <name>', 'this node')
    .requiredOption('--nodes <list>', 'every node of the cluster: NAME=HOST,NAME=HOST,…')
    .requiredOption('--port <port>', "the nodes' PostgreSQL port", int('--port'))
    .requiredOption('--passfile <file>', "libpq passfile holding the repmgr role's password")
    .requiredOption('--data-dir <dir>', "this node's data directory")
    .requiredOption('--pg-ctl <file>', 'pg_ctl to stop it with')
    .requiredOption('--lock <file>', 'held while it runs: one backstop per node')
    .option('--timeout-ms <ms>', 'how long one node may take to answer', int('--timeout-ms'), 1500)
    .action(async (o) => {
      const { runBackstop } = await import('../src/repmgr/backstop.js');
      const { parseNodeList, passfileConnect } = await import('../src/repmgr/validate.js');
      const { execa } = await import('execa');
      const { postmasterStatus } = await import('../src/postgres/actions.js');
      const out = await runBackstop({
        node: o.node,
        nodes: parseNodeList(o.nodes),
        connect: passfileConnect(o.port, o.passfile, o.timeoutMs),
        stop: async () => void (await execa(o.pgCtl, ['-D', o.dataDir, '-m', 'immediate', '-w', 'stop'])),
        running: () => postmasterStatus(o.dataDir) !== undefined,
        log: (l) => console.log(`${new Date().toISOString()} pgha fence backstop: ${l}`),
        lockFile: o.lock,
      });
      process.exitCode = out === 'fenced' || out === 'done' || out === 'busy' ? 0 : 1;
    });
  program
    .command('events')
    .description('the cluster events repmgr reported (failover, follow, rejoin, …), newest first')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { readEvents } = await import('../src/events.js');
      const events = await readEvents(await configFrom(o));
      console.log(o.json ? JSON.stringify(events, null, 2) : events.map((e) => `${e.at}  ${e.node.padEnd(8)} ${e.event} ${e.success ? 'ok' : 'FAILED'}${e.followUp ? `  → ${e.followUp}` : ''}`).join('\n'));
    });
  for (const [verb, what] of [
    ['restart', 'planned restart of NODE (the primary included): automatic failover is paused meanwhile'],
    ['switchover', 'planned role swap: the old primary stops cleanly, --to catches up and is promoted, the old primary rejoins'],
    ['failover', 'promote --to now when the primary is gone: refused while a node takes writes, and unless --to is the most advanced of a majority that answers; the others follow'],
  ] as const) {
    const c = program.command(verb).description(what);
    if (verb === 'restart') c.argument('<node>', 'node name');
    else c.requiredOption('--to <node>', 'the node to promote');
    if (verb === 'failover') c.option('--force', 'promote although a reachable node is ahead of it or no majority answers (acknowledged commits may be lost; never beside a writable node)');
    c.option('--dir <dir>', DIR_HELP)
      .option('--config <file>', CONFIG_HELP)
      .action(async (...args: any[]) => {
        const node: string | undefined = verb === 'restart' ? args[0] : undefined;
        const o = verb === 'restart' ? args[1] : args[0];
        const { runOperation } = await import('./operations.js');
        process.exitCode = await runOperation(await configFrom(o), verb, node ?? o.to, console.log, o.force ? { force: true } : undefined);
      });
  }
  program
    .command('history')
    .description('every timeline: when it began, which node was promoted, why (failover, switchover, restore) and the LSN where it forked')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { formatHistory, readHistory } = await import('../src/history.js');
      const h = await readHistory(await configFrom(o));
      console.log(o.json ? JSON.stringify(h, null, 2) : formatHistory(h));
    });
  program
    .command('pause')
    .description('maintenance mode: automatic failover off cluster-wide (repmgrd paused, no watchdog fence for lack of standbys) until pgha resume; shown in status, on the page and in the metrics')
    .option('--reason <text>', 'why (shown with who and since when; stored in Redis: no secrets)')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .action(async (o) => {
      const { runMaintenance } = await import('./operations.js');
      process.exitCode = await runMaintenance(await configFrom(o), 'pause', { reason: o.reason });
    });
  program
    .command('resume')
    .description('end maintenance mode: automatic failover on again, unless a flow still holds it paused (--force drops that hold too)')
    .option('--force', "also drop the pause a flow holds (one that failed half-way): failover comes back now")
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .action(async (o) => {
      const { runMaintenance } = await import('./operations.js');
      process.exitCode = await runMaintenance(await configFrom(o), 'resume', o.force ? { force: true } : {});
    });
  program
    .command('reinit')
    .argument('<node>', 'a standby')
    .description('clone a standby again from the primary (refused for the primary); its old data directory is kept aside until the new one streams, then removed')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .action(async (node: string, o) => {
      const { runScenario } = await import('./operations.js');
      process.exitCode = (await runScenario(await configFrom(o), { scenario: 'reinit', node })).code;
    });
  program
    .command('dashboard')
    .option('--config <file>', CONFIG_HELP)
    .option('--dir <dir>', DIR_HELP)
    .description('the cluster page at /, Bull Board at /queues, the REST API under /api, metrics at /metrics (needs dashboard.token)')
    .action(async (o) => {
      const { serveDashboard } = await import('../dashboard/server.js');
      const { loadConfig: reload } = await configLoader();
      const loaded = reload(o);
      // config apply through the API reads the file again: the parameters it holds now
      await runUntilSignal('dashboard', loaded, () => serveDashboard(loaded.config, { reload: () => reload(o).config }));
    });

  const backup = program.command('backup').description('barman backups');
  backup
    .command('now', { isDefault: true })
    .description('take a full backup now, wait, print its id and size')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .action(async (o) => {
      const { backupNow } = await import('./backups.js');
      process.exitCode = await backupNow(await configFrom(o));
    });
  backup
    .command('list')
    .description('every backup barman holds: id, begin/end time, size, status, WAL range')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { backupList } = await import('./backups.js');
      process.exitCode = await backupList(await configFrom(o), Boolean(o.json));
    });

  program
    .command('restore')
    .description('restore the cluster from a barman backup (full or point in time); replaces every node\'s data')
    .option('--backup <id>', 'backup id, or latest', 'latest')
    .option('--target-time <iso8601>', 'recover up to this time')
    .option('--target-lsn <lsn>', 'recover up to this LSN')
    .option('--target <immediate>', "immediate: stop at the backup's consistent point")
    .option('--node <name>', 'node that becomes the primary (default: the current primary)')
    .option('--yes', 'confirm: the cluster\'s data is replaced')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .action(async (o) => {
      const { runRestore } = await import('./restore.js');
      process.exitCode = await runRestore(await configFrom(o), o);
    });

  const flow = program.command('flow').description('enqueue a flow');
  flow
    .command('first-start')
    .argument('<node>', 'node name')
    .option('--dir <dir>', DIR_HELP)
    .option('--config <file>', CONFIG_HELP)
    .option('--flow-id <id>', 'flow id (default: deterministic, so a second enqueue adds nothing)')
    .description('enqueue the first-start flow of a node (primary or standby by its master flag)')
    .action(async (node: string, o) => {
      const { buildFirstStartFlow } = await import('../src/flows/first-start.js');
      const { enqueueFlow } = await import('../src/flows/run.js');
      const { redisConnection } = await import('../src/redis.js');
      const cfg = await configFrom(o);
      const f = buildFirstStartFlow(cfg, node, o.flowId);
      const connection = redisConnection(cfg.redis);
      try {
        await enqueueFlow(connection, f, 'first-start');
      } finally {
        connection.disconnect();
      }
      console.log(f.flowId);
    });

  await program.parseAsync(argv);
}
