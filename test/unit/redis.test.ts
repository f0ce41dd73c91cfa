import { describe, it, expect } from '@jest/globals';
import { resolveConfig, maskSecrets, secretsOf } from '../../src/config/load.js';
import { describeRedis, redisOptions } from '../../src/redis.js';
import { barmanQueueName, controlQueueName, nodeQueueName } from '../../src/queues.js';
import { problemsOf } from './helpers.js';

const nodes = [{ name: 'n1', host: 'h1', master: true }];
const resolve = (redis: unknown, env: NodeJS.ProcessEnv = {}) => resolveConfig({ mode: 'local', nodes, ...(redis === undefined ? {} : { redis }) }, env).config;

describe('redis settings', () => {
  it('default: one Redis on 127.0.0.1:6379; a URL as given', () => {
    expect(resolve(undefined).redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(resolve({}).redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(resolve({ url: 'rediss://r.example:6380/2' }).redis).toEqual({ url: 'rediss://r.example:6380/2' });
    expect(redisOptions(resolve({ url: 'redis://r:1/0' }).redis)).toEqual({ maxRetriesPerRequest: null, enableReadyCheck: true, url: 'redis://r:1/0' });
  });

  it('Sentinel: the sentinels and the master name go to ioredis, passwords are secrets', () => {
    const c = resolve({ sentinels: [{ host: 's1', port: 26380 }, { host: 's2' }], masterName: 'pgha-redis', password: 'redis-Pw-1', sentinelPassword: 'sent-Pw-2' });
    expect(c.redis).toEqual({ sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }], masterName: 'pgha-redis', password: 'redis-Pw-1', sentinelPassword: 'sent-Pw-2' });
    expect(redisOptions(c.redis)).toMatchObject({
      sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }],
      name: 'pgha-redis',
      password: 'redis-Pw-1',
      sentinelPassword: 'sent-Pw-2',
      maxRetriesPerRequest: null,
    });
    expect(maskSecrets(c).redis).toMatchObject({ password: '****', sentinelPassword: '****' });
    expect(secretsOf(c)).toEqual(expect.arrayContaining(['redis-Pw-1', 'sent-Pw-2']));
    expect(describeRedis(c.redis)).toBe('sentinel master "pgha-redis" via s1:26380, s2:26379');
    expect(describeRedis({ url: 'redis://:secret@r:6379' })).toBe('redis://****@r:6379');
  });

  it('from PGHA_* variables, as in a container', () => {
    const c = resolve(undefined, { PGHA_REDIS_SENTINELS: '[{host: sentinel1, port: 26379}, {host: sentinel2}]', PGHA_REDIS_MASTER_NAME: 'mymaster', PGHA_REDIS_PASSWORD: '12345' });
    expect(c.redis).toEqual({ sentinels: [{ host: 'sentinel1', port: 26379 }, { host: 'sentinel2', port: 26379 }], masterName: 'mymaster', password: '12345' });
  });

  it('refuses both forms, sentinels without a master name, a password beside a URL', () => {
    expect(problemsOf(() => resolve({ url: 'redis://r:1', sentinels: [{ host: 's1' }], masterName: 'm' }))).toEqual(
      expect.arrayContaining(['redis.sentinels: set either redis.url or redis.sentinels (with redis.masterName), not both (got ["s1:26379"])']),
    );
    expect(problemsOf(() => resolve({ sentinels: [{ host: 's1' }] }))).toEqual([
      'redis.masterName: required with redis.sentinels: the name the sentinels monitor (sentinel monitor <name> …) (got nothing)',
    ]);
    expect(problemsOf(() => resolve({ url: 'redis://r:1', password: 'x' }))[0]).toMatch(/^redis\.url: with redis\.url, give the password inside the URL/);
    expect(problemsOf(() => resolve({ sentinels: [] }))[0]).toMatch(/^redis\.sentinels: list at least one sentinel/);
  });

  it("queue names carry the cluster's hash tag, so a cluster's queues share one Redis Cluster slot", () => {
    expect([nodeQueueName('pgha', 'n1'), barmanQueueName('pgha'), controlQueueName('pgha')]).toEqual(['{pgha}.node.n1', '{pgha}.barman', '{pgha}.control']);
  });
});
