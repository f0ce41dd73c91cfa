import { describe, it, expect } from '@jest/globals';
import { barmanPaths, findNode, masterNode, nodePaths, repmgrNodeId } from '../../src/config/paths.js';
import { localConfig } from './helpers.js';

describe('nodePaths', () => {
  const config = localConfig();

  it('derives every path of a node from the config with the default dirs', () => {
    expect(nodePaths(config, 'node2')).toEqual({
      dataDir: '/var/lib/postgresql/node2',
      socketDir: '/var/run/postgresql/node2',
      repmgrConf: '/etc/repmgr.d/node2.conf',
      stateDir: '/var/lib/pgha/nodes/node2',
      passfile: '/var/lib/pgha/nodes/node2/pgpass',
      pgLog: '/var/lib/pgha/nodes/node2/postgresql.log',
      repmgrdPid: '/var/lib/pgha/nodes/node2/repmgrd.pid',
      repmgrdLog: '/var/lib/pgha/nodes/node2/repmgrd.log',
      repmgrdOut: '/var/lib/pgha/nodes/node2/repmgrd.out',
      redisFile: '/var/lib/pgha/nodes/node2/redis.json',
      startedMarker: '/var/lib/pgha/nodes/node2/first-start.done',
      bootFlowFile: '/var/lib/pgha/nodes/node2/boot-flow',
      eventSpool: '/var/lib/pgha/nodes/node2/events',
    });
  });

  it('accepts a node object or its name', () => {
    expect(nodePaths(config, config.nodes[2])).toEqual(nodePaths(config, 'node3'));
  });

  it('follows configured directories (and normalises a trailing slash)', () => {
    const c = localConfig({
      stateDir: '/srv/pgha',
      postgres: { dataDir: '/data/pg/', socketDir: '/tmp/sock' },
      repmgr: { configDir: '/opt/repmgr' },
    });
    const p = nodePaths(c, 'node1');
    expect(p.dataDir).toBe('/data/pg/node1');
    expect(p.socketDir).toBe('/tmp/sock/node1');
    expect(p.repmgrConf).toBe('/opt/repmgr/node1.conf');
    expect(p.passfile).toBe('/srv/pgha/nodes/node1/pgpass');
  });

  it('gives each node its own directories', () => {
    const all = config.nodes.map((n) => nodePaths(config, n));
    for (const key of ['dataDir', 'socketDir', 'repmgrConf', 'stateDir', 'passfile', 'repmgrdPid', 'repmgrdOut'] as const) {
      expect(new Set(all.map((p) => p[key])).size).toBe(3);
    }
  });
});

describe('barmanPaths', () => {
  it('uses the cluster name as server name and barman.configDir for the server file', () => {
    const config = localConfig({ cluster: 'demo' });
    expect(barmanPaths(config)).toEqual({
      mainConf: '/var/lib/pgha/barman/barman.conf',
      serverConf: '/etc/barman.d/demo.conf',
      stateDir: '/var/lib/pgha/barman',
      passfile: '/var/lib/pgha/barman/pgpass',
      log: '/var/lib/pgha/barman/barman.log',
      cronOut: '/var/lib/pgha/barman/barman-cron.out',
      server: 'demo',
      streamingDir: '/home/barman/data/demo/streaming',
    });
  });

  it('follows stateDir and barman.configDir', () => {
    const p = barmanPaths(localConfig({ stateDir: '/srv/x', barman: { configDir: '/cfg/barman' } }));
    expect(p.serverConf).toBe('/cfg/barman/pgha.conf');
    expect(p.mainConf).toBe('/srv/x/barman/barman.conf');
    expect(p.passfile).toBe('/srv/x/barman/pgpass');
  });
});

describe('findNode / masterNode / repmgrNodeId', () => {
  const config = localConfig();

  it('findNode returns the node by name', () => {
    expect(findNode(config, 'node3')).toEqual({ name: 'node3', host: '127.0.0.13', master: false, priority: 100 });
  });

  it('findNode of an unknown name throws naming the known nodes', () => {
    expect(() => findNode(config, 'node9')).toThrow('node "node9" is not in the config\'s nodes (known: node1, node2, node3)');
  });

  it('masterNode is the node with master: true', () => {
    expect(masterNode(config).name).toBe('node1');
    const other = localConfig({
      nodes: [
        { name: 'a', host: '10.0.0.1' },
        { name: 'b', host: '10.0.0.2', master: true },
      ],
    });
    expect(masterNode(other).name).toBe('b');
  });

  it('repmgrNodeId is the 1-based position in the nodes list', () => {
    expect(config.nodes.map((n) => repmgrNodeId(config, n.name))).toEqual([1, 2, 3]);
  });

  it('repmgrNodeId of an unknown node throws', () => {
    expect(() => repmgrNodeId(config, 'ghost')).toThrow('node "ghost" is not in the config\'s nodes');
  });
});
