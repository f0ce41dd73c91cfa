// docker-compose.yml's cluster on the engine (test/engine/podman.ts), as the compose test and the
// network-cut nemesis (bench/chaos/cut.ts) drive it: the project, its .env, and what they do to it:
// run a command in a service's container, read `pgha status`, query a node, cut a container off the
// network and connect it again, sample writes from inside a container.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'execa';
import { Engine, writeDotEnv } from './podman.js';
import { writeSampler } from './clients.js';

export interface ComposeProject {
  name: string;
  file: string;
  envFile: string;
  cwd: string;
}

/** What a user's .env holds (see .env.example), with fresh passwords; `extra` sets the file's other variables. */
export function freshDotEnv(extra: Record<string, string> = {}): Record<string, string> {
  const secret = () => randomBytes(12).toString('hex');
  return {
    POSTGRES_ROOT_PASSWORD: secret(),
    REPMGR_PASSWORD: secret(),
    REPMGR_STREAMING_PASSWORD: secret(),
    BARMAN_PASSWORD: secret(),
    BARMAN_STREAMING_PASSWORD: secret(),
    DASHBOARD_TOKEN: randomBytes(24).toString('hex'),
    ...extra,
  };
}

export class ComposeCluster {
  project: ComposeProject;
  readonly originalFile: string;

  /** `dir`: where its .env (and a grown compose file) are written; the project runs from `repoRoot`. */
  constructor(
    readonly engine: Engine,
    name: string,
    readonly repoRoot: string,
    dir: string,
    readonly dotEnv: Record<string, string>,
  ) {
    this.originalFile = join(repoRoot, 'docker-compose.yml');
    this.project = { name, file: this.originalFile, envFile: join(dir, '.env'), cwd: repoRoot };
    writeDotEnv(this.project.envFile, dotEnv);
  }

  /** docker-compose on this project (relative paths of a compose file elsewhere resolve in the repository). */
  compose(args: string[], opts: Options = {}) {
    return this.engine.compose(this.project, ['--project-directory', this.repoRoot, ...args], opts);
  }

  /** From scratch (a leftover project of the same name goes first): `up -d` of the built images. */
  async up(): Promise<void> {
    await this.engine.removeProject(this.project.name);
    const up = await this.compose(['up', '-d', '--no-build'], { timeout: 600_000 });
    if (up.exitCode !== 0) throw new Error(`docker-compose up failed:\n${up.all}`);
  }

  /** Every container, volume and the network of the project (a grown file's network is external: the original file's down removes it). */
  async down() {
    let r = await this.compose(['down', '-v', '--remove-orphans'], { timeout: 300_000 });
    if (this.project.file !== this.originalFile) r = await this.engine.compose({ ...this.project, file: this.originalFile }, ['--project-directory', this.repoRoot, 'down', '-v', '--remove-orphans'], { timeout: 300_000 });
    // what a failed down left (the namespace cannot go while a container holds it)
    await this.engine.removeProject(this.project.name);
    return r;
  }

  /**
   * Run from now on from `text`, a compose file grown from the original (a node added). Its network is
   * declared external, the one the project already has: docker-compose 1.29 on podman refuses to
   * `up` anything over an existing network ("needs to be recreated: IPAM option driver has changed":
   * podman's API reports an IPAM option compose does not expect), which is what a second `up` is.
   */
  grow(text: string, dir: string): void {
    const start = text.indexOf('\nnetworks:\n');
    const end = text.indexOf('\nvolumes:\n');
    if (start < 0 || end < start) throw new Error('docker-compose.yml no longer has its networks: block before volumes:');
    const file = join(dir, 'docker-compose.grown.yml');
    writeFileSync(file, `${text.slice(0, start)}\nnetworks:\n  default:\n    external: true\n    name: ${this.network}\n${text.slice(end)}`);
    this.project = { ...this.project, file };
  }

  container(service: string): string {
    return `${this.project.name}_${service}_1`;
  }

  get network(): string {
    return `${this.project.name}_default`;
  }

  /** A command in a service's container, with `env` passed by name (never on a command line). */
  exec(service: string, args: string[], env: Record<string, string> = {}, opts: Options = {}) {
    return this.engine.podman(['exec', ...Object.keys(env).flatMap((k) => ['-e', k]), this.container(service), ...args], { env, timeout: 60_000, ...opts });
  }

  /** `pgha status --json`, read in a container (`service`: one that has the cluster's config). */
  async status(service = 'dashboard'): Promise<any> {
    const r = await this.exec(service, ['node', '/app/bin/pgha.js', 'status', '--json']);
    if (r.exitCode !== 0) throw new Error(`pgha status: ${r.stderr}`);
    return JSON.parse(String(r.stdout));
  }

  /** NODE → role, with `<-UPSTREAM` for a standby. */
  async roles(service = 'dashboard'): Promise<Record<string, string>> {
    return Object.fromEntries((await this.status(service)).nodes.map((n: any) => [n.name, `${n.role}${n.upstream ? `<-${n.upstream}` : ''}`]));
  }

  /** A query on `node` as the repmgr role, in its own container. */
  async sql(node: string, text: string): Promise<{ ok: boolean; out: string }> {
    const r = await this.exec(node, ['psql', '-h', node, '-U', 'repmgr', '-d', 'repmgr', '-At', '-c', text], { PGPASSWORD: this.dotEnv.REPMGR_PASSWORD, PGCONNECT_TIMEOUT: '3' });
    return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim() };
  }

  /** A container's address on the compose network. */
  async ipOf(service: string): Promise<string> {
    return String((await this.engine.podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`, this.container(service)])).stdout).trim();
  }

  private addressBeforeCut = new Map<string, string>();

  /** The container leaves the network: a host cut off (heal gives it back the same address, as a partition ends). Returns when the cut began (ms). */
  async cut(service: string): Promise<number> {
    this.addressBeforeCut.set(service, await this.ipOf(service));
    const at = Date.now();
    const r = await this.engine.podman(['network', 'disconnect', this.network, this.container(service)]);
    if (r.exitCode !== 0) throw new Error(`podman network disconnect ${service}: ${r.stderr}`);
    return at;
  }

  /**
   * The container joins the network again under its service name, at the address it had: a network
   * partition that ends does not renumber a host (podman would give it a new one otherwise, and the
   * processes bound to the old one would stay out of reach).
   */
  async heal(service: string): Promise<void> {
    const ip = this.addressBeforeCut.get(service);
    const r = await this.engine.podman(['network', 'connect', '--alias', service, ...(ip ? ['--ip', ip] : []), this.network, this.container(service)]);
    if (r.exitCode !== 0) throw new Error(`podman network connect ${service}: ${r.stderr}`);
    this.addressBeforeCut.delete(service);
  }

  /**
   * A write sampler inside `node`'s container, through its unix socket (a cut takes the address away,
   * not PostgreSQL). Stopped inside the container too: killing `podman exec` leaves its process running.
   */
  sampler(node: string) {
    return writeSampler(
      node,
      (script, env) => this.engine.podman(['exec', '-e', 'NODE', '-e', 'PGPASSWORD', '-e', 'SOCKET', this.container(node), 'node', '-e', script], { env: { ...env, SOCKET: `/var/run/postgresql/${node}` }, buffer: false }),
      this.dotEnv.REPMGR_PASSWORD,
      (pid) => void this.engine.podman(['exec', this.container(node), 'kill', String(pid)]),
    );
  }
}
