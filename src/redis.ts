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

/**
 * One short-lived connection that gives up at once (no retries, no offline queue): for a hook or a
 * step that must not wait on a Redis that is down. The caller disconnects it.
 */
export function quickRedisConnection(settings: RedisSettings | string, timeoutMs = 1000): Redis {
  const { url, ...options } = redisOptions(settings);
  const quick: RedisOptions = { ...options, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, sentinelRetryStrategy: () => null };
  const r = url !== undefined ? new Redis(url, quick) : new Redis(quick);
  r.on('error', () => {});
  return r;
}

/**
 * Does Redis answer a PING within `timeoutMs`? null when it does, else why not (one line, no secret).
 * One connection, no retries, closed before it returns: a caller that finds Redis down says so once
 * instead of leaving connections to retry (and print) until it exits.
 */
export async function redisProblem(settings: RedisSettings | string, timeoutMs = 2000): Promise<string | null> {
  const r = quickRedisConnection(settings, timeoutMs);
  // the first socket error says why (ECONNREFUSED, ENOTFOUND…); connect() itself only says "Connection is closed"
  let first: (Error & { code?: string }) | undefined;
  r.on('error', (err) => (first ??= err));
  try {
    await Promise.race([
      r.connect().then(() => r.ping()),
      new Promise((_, no) => setTimeout(() => no(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
    return null;
  } catch (err) {
    const e = first ?? (err as Error & { code?: string });
    return e.code ?? e.message.split('\n')[0];
  } finally {
    r.disconnect();
  }
}
