// Where each node's and barman's files live, derived from the config (pure).
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from './schema.js';

/** The local cluster's folder when no --dir is given (relative to where pgha runs). */
export const DEFAULT_LOCAL_DIR = '.pgha';

/** `pgha local up`'s options and their defaults (here, not in src/local/cluster.ts: the CLI shows them without loading it). */
export interface LocalOptions {
  dir: string;
  nodes: number;
  baseIp: string;
  redisPort: number;
  dashboardPort: number;
  cluster: string;
}

export const LOCAL_DEFAULTS: LocalOptions = {
  dir: DEFAULT_LOCAL_DIR,
  nodes: 3,
  baseIp: '127.0.0.11',
  redisPort: 6390,
  dashboardPort: 8080,
  cluster: 'pgha',
};

export interface NodePaths {
  dataDir: string;
  socketDir: string;
  repmgrConf: string;
  /** The worker's own folder for this node: passfile, pid files, logs. */
  stateDir: string;
  passfile: string;
  pgLog: string;
  repmgrdPid: string;
  repmgrdLog: string;
  /** What repmgrd prints before it opens its own log (daemon start). */
  repmgrdOut: string;
  /** Redis URL for repmgr's event hook (it runs as postgres and cannot read pgha.yaml). */
  /** The Redis settings (JSON) for repmgr's event hook, which runs as postgres and cannot read pgha.yaml. */
  redisFile: string;
  /** repmgr's events wait here for the node worker (src/events.ts, drainEventSpool). */
  eventSpool: string;
  /** Written when the node first ran in its role: from then on a boot is a restart, not a first start. */
  startedMarker: string;
  /** Id of the flow the node worker enqueued when it booted. */
  bootFlowFile: string;
}

export function nodePaths(config: ClusterConfig, node: NodeConfig | string): NodePaths {
  const name = typeof node === 'string' ? node : node.name;
  const stateDir = join(config.stateDir, 'nodes', name);
  return {
    dataDir: join(config.postgres.dataDir, name),
    socketDir: join(config.postgres.socketDir, name),
    repmgrConf: join(config.repmgr.configDir, `${name}.conf`),
    stateDir,
    passfile: join(stateDir, 'pgpass'),
    pgLog: join(stateDir, 'postgresql.log'),
    repmgrdPid: join(stateDir, 'repmgrd.pid'),
    repmgrdLog: join(stateDir, 'repmgrd.log'),
    repmgrdOut: join(stateDir, 'repmgrd.out'),
    redisFile: join(stateDir, 'redis.json'),
    eventSpool: join(stateDir, 'events'),
    startedMarker: join(stateDir, 'first-start.done'),
    bootFlowFile: join(stateDir, 'boot-flow'),
  };
}

export interface BarmanPaths {
  /** barman's main config file (barman -c). */
  mainConf: string;
  serverConf: string;
  stateDir: string;
  passfile: string;
  log: string;
  /** Output of `barman cron` (it leaves receive-wal behind, so no pipes). */
  cronOut: string;
  /** barman's server name is the cluster name. */
  server: string;
  /** Where pg_receivewal (barman receive-wal) writes; a `.partial` file there means it streams. */
  streamingDir: string;
}

export function barmanPaths(config: ClusterConfig): BarmanPaths {
  const stateDir = join(config.stateDir, 'barman');
  return {
    mainConf: join(stateDir, 'barman.conf'),
    serverConf: join(config.barman.configDir, `${config.cluster}.conf`),
    stateDir,
    passfile: join(stateDir, 'pgpass'),
    log: join(stateDir, 'barman.log'),
    cronOut: join(stateDir, 'barman-cron.out'),
    server: config.cluster,
    streamingDir: join(config.barman.backupDir, config.cluster, 'streaming'),
  };
}

export function findNode(config: ClusterConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`node "${name}" is not in the config's nodes (known: ${config.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

export function masterNode(config: ClusterConfig): NodeConfig {
  return config.nodes.find((n) => n.master)!;
}

/** repmgr node ids are small integers: position in the nodes list, from 1. */
export function repmgrNodeId(config: ClusterConfig, name: string): number {
  const i = config.nodes.findIndex((n) => n.name === name);
  if (i < 0) throw new Error(`node "${name}" is not in the config's nodes`);
  return i + 1;
}
