// The cluster file's redis section, on its own: repmgr's hooks read the node worker's copy of it
// (redis.json) and load this, not the whole cluster schema.
import { z } from 'zod';

export const port = z.number().int().min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)');

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * One Redis (url), or a master found through Redis Sentinel (sentinels + masterName), handed to
 * ioredis. Neither given: the url default.
 */
export const RedisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
    sentinels: z.array(z.strictObject({ host: z.string().min(1), port: port.default(26379) })).min(1, 'list at least one sentinel').optional(),
    /** The master's name in the sentinels' configuration (sentinel monitor <name> …). */
    masterName: z.string().min(1).optional(),
    /** With sentinels: the Redis password (with url, put it in the URL). */
    password: z.string().min(1).optional(),
    sentinelPassword: z.string().min(1).optional(),
  })
  .transform((r) => (r.url === undefined && r.sentinels === undefined ? { ...r, url: DEFAULT_REDIS_URL } : r));
export type RedisSettings = z.infer<typeof RedisSchema>;
