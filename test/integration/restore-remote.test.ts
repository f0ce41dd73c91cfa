// Restore to a node on "another host": barman reaches it only over SSH (barman's --remote-ssh-command),
// here a private sshd on the node's loopback address, as it would be on a separate machine.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { Queue } from 'bullmq';
import { lookupUser } from '../../src/exec/runner.js';
import { redisConnection } from '../../src/redis.js';
import { barmanQueueName } from '../../src/queues.js';
import { stopPid } from '../../src/local/processes.js';
import { cli, freePort, sqlTo, testCluster, waitFor, type TestCluster } from './harness.js';

const NODE_IP = '127.0.19.11';
let tc: TestCluster;
let sshDir: string;
let sshd: ResultPromise | undefined;

async function sql(text: string) {
  const c = await sqlTo(tc.config(), 'node1');
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  sshDir = mkdtempSync('/tmp/pgha-test-ssh-');
  // barman reads its key here, and sshd the postgres user's authorized_keys
  chmodSync(sshDir, 0o755);
  const port = await freePort();
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, 'host_key')]);
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, 'barman_key')]);
  const barman = lookupUser('barman');
  chownSync(join(sshDir, 'barman_key'), barman.uid, barman.gid);
  writeFileSync(join(sshDir, 'authorized_keys'), readFileSync(join(sshDir, 'barman_key.pub')), { mode: 0o644 });
  writeFileSync(
    join(sshDir, 'sshd_config'),
    [
      `Port ${port}`,
      `ListenAddress ${NODE_IP}`,
      `HostKey ${join(sshDir, 'host_key')}`,
      `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
      // the test's files live under /tmp (mode 1777), which StrictModes refuses
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      // with PAM, sshd lets a locked account (postgres has no password) log in by key
      'UsePAM yes',
      'AllowUsers postgres',
      `PidFile ${join(sshDir, 'sshd.pid')}`,
    ].join('\n') + '\n',
  );
  mkdirSync('/run/sshd', { recursive: true });
  sshd = execa('/usr/sbin/sshd', ['-D', '-e', '-f', join(sshDir, 'sshd_config')], { reject: false });
  const sshCommand = `ssh -o BatchMode=yes -p ${port} -i ${join(sshDir, 'barman_key')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null`;
  tc = await testCluster('remote', '127.0.19.11', {
    nodes: 1,
    config: (raw) => {
      // hosts mode: the barman host (127.0.0.1) is not the node's, so the restore goes over SSH
      raw.mode = 'hosts';
      raw.postgres = { ...raw.postgres, rootPassword: 'test-root-secret' };
      raw.repmgr = { ...raw.repmgr, password: 'test-repmgr-secret', streamingPassword: 'test-repmgr-stream' };
      raw.barman = { ...raw.barman, password: 'test-barman-secret', streamingPassword: 'test-barman-stream', sshCommand };
    },
  });
  await waitFor('sshd', async () => (await execa('runuser', ['-u', 'barman', '--', ...sshCommand.split(' '), `postgres@${NODE_IP}`, 'true'], { reject: false })).exitCode === 0, 20_000, 200);
  const up = await cli(['local', 'up', ...tc.args]);
  expect({ code: up.exitCode, out: up.all }).toMatchObject({ code: 0 });
}, 300_000);

afterAll(async () => {
  await tc?.destroy();
  if (sshd) {
    await stopPid(sshd.pid, 'SIGTERM', 5000);
    await sshd;
  }
  rmSync(sshDir, { recursive: true, force: true });
}, 120_000);

describe('restore to a node on another host', () => {
  it('barman recovers over SSH into the node, which is promoted with the backup\'s data', async () => {
    await sql('CREATE TABLE rows (i int)');
    await sql('INSERT INTO rows SELECT generate_series(1, 500)');
    const b = await cli(['backup', '--dir', tc.dir]);
    expect(b.exitCode).toBe(0);
    const id = /^backup (\d{8}T\d{6}) DONE/m.exec(b.stdout)![1];
    await sql('INSERT INTO rows SELECT generate_series(501, 1000)');
    const r = await cli(['restore', '--yes', '--target', 'immediate', '--backup', id, '--dir', tc.dir]);
    expect({ code: r.exitCode, out: r.all }).toMatchObject({ code: 0 });
    expect(await sql('SELECT count(*)::int AS n FROM rows')).toEqual([{ n: 500 }]);
    // it really went through ssh: the recover step's command line says so
    const flowId = /flow (\S+):/.exec(r.stdout)![1];
    const connection = redisConnection(tc.config().redis);
    const q = new Queue(barmanQueueName(tc.config().cluster), { connection });
    const { logs } = await q.getJobLogs(`${flowId}-barman-recover`);
    await q.close();
    connection.disconnect();
    expect(logs.join('\n')).toMatch(new RegExp(`--remote-ssh-command .*postgres@${NODE_IP.replace(/\./g, '\\.')}`));
  });
});
