// The connect line of `pgha local up`: where the postgres user's password comes from, never the password.
import { describe, expect, it } from '@jest/globals';
import { rootPasswordHint } from '../../src/local/cluster.js';
import { ClusterConfigSchema, SEED_PASSWORDS } from '../../src/config/schema.js';

const base = { nodes: [{ name: 'node1', host: '127.0.0.11', master: true }] };

describe('rootPasswordHint', () => {
  it("names the seed's default when pgha.yaml leaves postgres.rootPassword out (the key is not in the file to look for)", () => {
    const config = ClusterConfigSchema.parse(base);
    const hint = rootPasswordHint(config, '/x/pgha.yaml');
    expect(hint).toBe("the seed's default postgres.rootPassword (README, Configuration); set your own as postgres.rootPassword in /x/pgha.yaml");
    expect(hint).not.toContain(SEED_PASSWORDS['postgres.rootPassword']);
  });

  it('points at the key in the file when the file sets it', () => {
    const config = ClusterConfigSchema.parse({ ...base, postgres: { rootPassword: 'change-me-1' } });
    const hint = rootPasswordHint(config, '/x/pgha.yaml');
    expect(hint).toBe('postgres.rootPassword in /x/pgha.yaml');
    expect(hint).not.toContain('change-me-1');
  });
});
