// Redis connections for BullMQ: one Redis by URL, or the master that Redis Sentinel names (ioredis
// follows a failover of the master by itself). Workers need maxRetriesPerRequest: null (blocking
// commands).
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisSettings } from './config/schema.js';

/** ioredis's options for these settings (pure). */
export function redisOptions(settings: RedisSettings | string): RedisOptions & { url?: string } {
  const base: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true };
  const s = typeof settings === 'string' ? { url: settings } : settings;
  if (s.url !== undefined) return { ...base, url: s.url };
  return {
    ...base,
    sentinels: s.sentinels!.map(({ host, port }) => ({ host, port })),
    name: s.masterName,
    password: s.password,
    sentinelPassword: s.sentinelPassword,
    // a master demoted without dropping its connections answers READONLY: reconnect, the sentinels name the new one
    reconnectOnError: (err) => /READONLY/.test(err.message),
  };
}

export function redisConnection(settings: RedisSettings | string): Redis {
  const { url, ...options } = redisOptions(settings);
  return url !== undefined ? new Redis(url, options) : new Redis(options);
}

/** The settings as one line for logs and messages, without secrets (pure). */
export function describeRedis(settings: RedisSettings): string {
  if (settings.url !== undefined) return settings.url.replace(/\/\/[^@/]*@/, '//****@');
  return `sentinel master "${settings.masterName}" via ${settings.sentinels!.map((s) => `${s.host}:${s.port}`).join(', ')}`;
}
