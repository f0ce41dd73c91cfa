// A real container engine for the compose tests: rootful podman (no daemon) serving the Docker API
// on a socket of its own, with its networking kept inside a private network namespace, and Debian's
// docker-compose 1.29 talking to that socket. Nothing is pulled from a registry: the base images are
// made on this machine (scripts/container-base.sh) and the Dockerfile's targets are built by
// `podman build --pull=never`.
//
// Why a namespace: netavark turns the host's ip_forward on and adds iptables chains to it; inside a
// namespace of its own every bridge, rule and published port stays there. `nsenter --net` (not `ip
// netns exec`, whose fresh /sys breaks runc) runs podman and the test's clients in it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { dirname, join } from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';
import { pollUntil, sleep } from '../../src/wait.js';
import { isAlive } from '../../src/fsutil.js';
import { stopPid } from '../../src/local/processes.js';

/** The Dockerfile's targets docker-compose.yml uses, and the image name compose gives each. */
export const COMPOSE_IMAGES = ['node', 'barman', 'dashboard', 'redis', 'haproxy'] as const;
export const imageName = (target: string) => `pgha-${target}`;

/**
 * Build `targets` from the Dockerfile in `context` with podman (RUN steps on the host's network: apt
 * and npm reach their registries; podman's layer cache makes a re-run quick). Returns seconds taken.
 */
export async function buildImages(context: string, targets: readonly string[], log: (s: string) => void = () => {}): Promise<number> {
  const started = Date.now();
  await execa('bash', [join(context, 'scripts', 'container-base.sh')], { stdio: 'inherit' });
  for (const t of targets) {
    const t0 = Date.now();
    const r = await execa('podman', ['build', '--pull=never', '--network=host', '--target', t, '-t', imageName(t), '.'], { cwd: context, all: true, reject: false });
    if (r.exitCode !== 0) throw new Error(`podman build --target ${t} failed:\n${String(r.all).split('\n').slice(-30).join('\n')}`);
    log(`image ${imageName(t)} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return (Date.now() - started) / 1000;
}

/** true when the Docker API on `socket` answers its _ping. */
function ping(socket: string): Promise<boolean> {
  return new Promise((done) => {
    const req = get({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on('error', () => done(false));
    req.on('timeout', () => req.destroy());
  });
}

export class Engine {
  readonly socket: string;
  private service?: ResultPromise;
  private healthLoop?: { stop: boolean; done: Promise<void> };

  /** `name`: the network namespace and the socket's name, one per test run. */
  constructor(readonly name: string) {
    this.socket = `/run/podman/${name}.sock`;
  }

  get netns(): string {
    return `/run/netns/${this.name}`;
  }

  /** The namespace, and `podman system service` in it (kept until stop()). */
  async start(): Promise<void> {
    if (!existsSync(this.netns)) await execa('ip', ['netns', 'add', this.name]);
    await execa('ip', ['netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up']);
    // /run/podman is made by podman's systemd socket unit, which a machine without systemd never runs
    mkdirSync(dirname(this.socket), { recursive: true });
    rmSync(this.socket, { force: true });
    this.service = execa('nsenter', [`--net=${this.netns}`, 'podman', 'system', 'service', '--time=0', `unix://${this.socket}`], { reject: false, stdio: 'ignore' });
    await pollUntil('podman answers on its socket', () => ping(this.socket), {
      timeoutMs: 30_000,
      everyMs: 200,
    });
  }

  /** podman inside the namespace (what touches a network must run there). */
  podman(args: string[], opts: Options = {}) {
    return execa('nsenter', [`--net=${this.netns}`, 'podman', ...args], { reject: false, ...opts });
  }

  /** Any command inside the namespace (a client of a published port, of a container's address). */
  inNetns(command: string, args: string[], opts: Options = {}) {
    return execa('nsenter', [`--net=${this.netns}`, command, ...args], { reject: false, ...opts });
  }

  /** docker-compose against this engine's socket. */
  compose(project: { name: string; file: string; envFile: string; cwd: string }, args: string[], opts: Options = {}) {
    // not the caller's environment: compose v1 lets a variable exported in the shell override .env
    return execa('docker-compose', ['--env-file', project.envFile, '-p', project.name, '-f', project.file, ...args], {
      cwd: project.cwd,
      env: { DOCKER_HOST: `unix://${this.socket}`, PATH: process.env.PATH!, HOME: process.env.HOME ?? '/root' },
      extendEnv: false,
      reject: false,
      all: true,
      ...opts,
    });
  }

  /**
   * Run the health checks of compose project `project`'s running containers every `everyMs`: podman
   * schedules them with systemd timers, which these machines lack, so compose's `condition:
   * service_healthy` would wait forever. Only this project's containers (podman's state is
   * machine-wide); each check bounded in time.
   */
  startHealthChecks(project: string, everyMs = 2000): void {
    const loop = { stop: false, done: Promise.resolve() };
    loop.done = (async () => {
      while (!loop.stop) {
        // a container without a health check answers at once that it has none
        const names = (await this.podman(['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Names}}'])).stdout;
        for (const n of String(names).split('\n').filter(Boolean)) await this.podman(['healthcheck', 'run', n], { timeout: 30_000 });
        await sleep(everyMs).catch(() => {});
      }
    })();
    this.healthLoop = loop;
  }

  /** What is left of compose project `project`, removed by force (a run that failed half-way): containers, volumes, its network. */
  async removeProject(project: string): Promise<void> {
    const label = `label=com.docker.compose.project=${project}`;
    const ids = (args: string[]) => this.podman(args).then((r) => String(r.stdout).split('\n').filter(Boolean));
    const containers = await ids(['ps', '-a', '--filter', label, '--format', '{{.ID}}']);
    if (containers.length) await this.podman(['rm', '-f', '-t', '0', ...containers], { timeout: 120_000 });
    const volumes = await ids(['volume', 'ls', '--filter', label, '--format', '{{.Name}}']);
    if (volumes.length) await this.podman(['volume', 'rm', '-f', ...volumes]);
    await this.podman(['network', 'rm', '-f', `${project}_default`]);
  }

  /** The container's main pid as the host sees it; throws when it does not run (0 would name a process group). */
  async pidOf(container: string): Promise<number> {
    const pid = Number((await this.podman(['inspect', '--format', '{{.State.Pid}}', container])).stdout) || 0;
    if (pid <= 0) throw new Error(`${container} does not run`);
    return pid;
  }

  /** The health loop and the service end; the namespace goes once no container uses it. */
  async stop(): Promise<void> {
    if (this.healthLoop) {
      this.healthLoop.stop = true;
      await this.healthLoop.done;
    }
    const pid = this.service?.pid;
    if (pid && isAlive(pid)) await stopPid(pid, 'SIGTERM', 10_000);
    await this.service?.catch(() => {});
    rmSync(this.socket, { force: true });
    await execa('ip', ['netns', 'delete', this.name], { reject: false });
  }
}

/** What a user's .env holds for the compose file (see .env.example), written to `file`. */
export function writeDotEnv(file: string, values: Record<string, string>): void {
  writeFileSync(file, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
}

/** The compose file's text (for the tests that grow it, as the README tells a user to). */
export const composeText = (repoRoot: string) => readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
