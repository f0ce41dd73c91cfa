// Shared fixtures for the unit tests: a valid local-mode cluster of three nodes.
import { ConfigError, resolveConfig } from '../../src/config/load.js';
import type { ClusterConfig } from '../../src/config/schema.js';

export const LOCAL_NODES = [
  { name: 'node1', host: '127.0.0.11', master: true },
  { name: 'node2', host: '127.0.0.12' },
  { name: 'node3', host: '127.0.0.13' },
];

/** Raw (file-shaped) values of a valid local-mode config; `extra` is merged at the top level. */
export function localRaw(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: 'local', nodes: structuredClone(LOCAL_NODES), ...extra };
}

/** A resolved, valid local-mode config (seed passwords, three nodes, node1 the master). */
export function localConfig(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): ClusterConfig {
  return resolveConfig(localRaw(extra), env).config;
}

/** Passwords that are not the seed's, for configs outside local mode. */
export const CUSTOM_PASSWORDS = {
  postgres: { rootPassword: 'root-Pw-1' },
  repmgr: { password: 'repmgr-Pw-2', streamingPassword: 'repmgr-stream-Pw-3' },
  barman: { password: 'barman-Pw-4', streamingPassword: 'barman-stream-Pw-5' },
};

/** The problems of the ConfigError that fn throws (fails the test if it throws nothing or something else). */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** `path.to.field: what is wrong (got X)`, one line. */
export const PROBLEM_LINE = /^(\(top level\)|[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*): [^\n]+ \(got [^\n]+\)$/;
