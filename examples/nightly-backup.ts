// A nightly job written against pgha's typed client: take a backup, follow it, then check that the
// cluster is whole (one primary, every standby streaming from it, little lag) and say so in one
// line; exit 0 when all is well, 1 otherwise (cron mails the output).
//
//   node dist/examples/nightly-backup.js --dir /path/to/local/cluster        (Redis and the nodes directly)
//   node dist/examples/nightly-backup.js --config /etc/pgha/pgha.yaml
//   node dist/examples/nightly-backup.js --url http://db-admin:8080 --token-file /etc/pgha/dashboard.token
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FlowFailedError, loadConfig, PghaClient, PghaError } from 'pgha';

const { values: o } = parseArgs({
  options: { dir: { type: 'string' }, config: { type: 'string' }, url: { type: 'string' }, 'token-file': { type: 'string' }, 'max-lag-bytes': { type: 'string', default: String(16 * 2 ** 20) } },
});
const client = o.url
  ? PghaClient.connect({ url: o.url, token: readFileSync(o['token-file'] ?? '', 'utf8').trim() })
  : PghaClient.connect({ config: loadConfig({ dir: o.dir, config: o.config }).config });

try {
  const flowId = await client.startFlow('backup');
  console.log(`backup: flow ${flowId}`);
  const flow = await client.waitFlow(flowId, { timeoutMs: 60 * 60_000, onProgress: (f) => console.log(`  ${f.done}/${f.total} ${f.currentStep ?? 'done'}`) });
  const backup = flow.steps.find((s) => s.step === 'barman-backup')?.returnValue as { backupId?: string; sizeBytes?: number; skipped?: string } | undefined;
  const problems: string[] = [];
  if (!backup?.backupId) problems.push(`no backup taken: ${backup?.skipped ?? 'the step returned none'}`);

  const status = await client.status();
  const primaries = status.nodes.filter((n) => n.role === 'primary');
  if (primaries.length !== 1) problems.push(`${primaries.length} primaries`);
  for (const n of status.nodes.filter((x) => x.role !== 'primary')) {
    if (n.role !== 'standby') problems.push(`${n.name} is ${n.role}${n.error ? ` (${n.error})` : ''}`);
    else if (n.upstream !== primaries[0]?.name) problems.push(`${n.name} streams from ${n.upstream ?? 'nothing'}`);
    else if ((n.lagBytes ?? 0) > Number(o['max-lag-bytes'])) problems.push(`${n.name} lags ${n.lagBytes} bytes`);
  }
  if (status.automaticFailover?.paused) problems.push(status.automaticFailover.message);
  console.log(problems.length ? `NOT OK: ${problems.join('; ')}` : `OK: backup ${backup!.backupId} (${backup!.sizeBytes} bytes); ${status.nodes.length} nodes healthy`);
  process.exitCode = problems.length ? 1 : 0;
} catch (err) {
  // a refusal (another backup running, barman not ready) or a failed step: said in one line
  if (err instanceof PghaError || err instanceof FlowFailedError) console.log(`NOT OK: ${err.message}`);
  else throw err;
  process.exitCode = 1;
} finally {
  await client.close();
}
