// A multi-host test bed without Docker: one network namespace per docker-compose service, joined by
// a bridge that lives in a hub namespace of its own (the machine's own network is never touched),
// with compose's service names resolvable inside each namespace (`ip netns exec` bind-mounts
// /etc/netns/<ns>/hosts over /etc/hosts). It can start a command in a service's namespace, cut a
// service off the network (its link down) and heal it, and it removes every namespace, link and
// hosts file it made, also after a failure (down() is idempotent).
import { chownSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa, type Options } from 'execa';
import type { ComposeService } from './compose.js';
import type { Image } from '../image/build.js';

export interface BedService {
  name: string;
  ns: string;
  ip: string;
  /** Prefix length of the bed's network. */
  prefix: number;
  /** The service's end of its link (inside its namespace). */
  link: string;
}

/**
 * Addresses and names of a bed: pure, so that the layout is checked without root. `network` is a
 * number (addresses 10.N.x.y/16) or a /24 such as compose's subnet, 172.30.42.0/24 (.11, .12, …):
 * the addresses exist only inside the bed's own namespaces.
 */
export function planBed(id: string, services: string[], network: number | string = 231): { hub: string; bridge: string; services: BedService[] } {
  if (!/^[a-z0-9]{1,6}$/.test(id)) throw new Error(`bed id must be 1-6 lowercase letters or digits (got ${id})`);
  if (services.length > 200) throw new Error('at most 200 services');
  const c24 = typeof network === 'string' ? /^(\d+\.\d+\.\d+)\.0\/24$/.exec(network)?.[1] : undefined;
  if (typeof network === 'string' && !c24) throw new Error(`bed network must be a /24 like 172.30.42.0/24 (got ${network})`);
  return {
    hub: `pgha-${id}-hub`,
    bridge: 'br0',
    services: services.map((name, i) => ({
      name,
      ns: `pgha-${id}-${name}`,
      ip: c24 ? `${c24}.${i + 11}` : `10.${network}.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`,
      prefix: c24 ? 24 : 16,
      // interface names: at most 15 characters
      link: `eth0`,
    })),
  };
}

/** /etc/hosts of every namespace of the bed (pure). */
export function hostsFile(services: BedService[]): string {
  return ['127.0.0.1 localhost', '::1 localhost', ...services.map((s) => `${s.ip} ${s.name}`), ''].join('\n');
}

const ip = (args: string[]) => execa('ip', args);

async function pidsIn(ns: string): Promise<number[]> {
  const r = await execa('ip', ['netns', 'pids', ns], { reject: false });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** SIGKILL to every process in a namespace (by pid). */
async function killAllIn(ns: string): Promise<void> {
  for (const pid of await pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export class NetnsBed {
  readonly id: string;
  readonly hub: string;
  readonly services: BedService[];
  private made: string[] = [];
  private mountPoints: string[] = [];
  /** Each service's main process started from an image (its container's first process). */
  private containers = new Map<string, { pid: number; env: Record<string, string> }>();

  constructor(serviceNames: string[], id = randomBytes(3).toString('hex'), network?: string) {
    const plan = planBed(id, serviceNames, network);
    this.id = id;
    this.hub = plan.hub;
    this.services = plan.services;
  }

  service(name: string): BedService {
    const s = this.services.find((x) => x.name === name);
    if (!s) throw new Error(`no service ${name} in the bed (${this.services.map((x) => x.name).join(', ')})`);
    return s;
  }

  async up(): Promise<void> {
    await this.addNs(this.hub);
    await ip(['-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', this.hub, 'link', 'set', 'br0', 'up']);
    const hosts = hostsFile(this.services);
    for (const [i, s] of this.services.entries()) {
      await this.addNs(s.ns);
      // the pair is made in the hub; one end moves into the service's namespace
      const hubEnd = `h${i}`;
      await ip(['-n', this.hub, 'link', 'add', hubEnd, 'type', 'veth', 'peer', 'name', s.link, 'netns', s.ns]);
      await ip(['-n', this.hub, 'link', 'set', hubEnd, 'master', 'br0', 'up']);
      await ip(['-n', s.ns, 'addr', 'add', `${s.ip}/${s.prefix}`, 'dev', s.link]);
      await ip(['-n', s.ns, 'link', 'set', s.link, 'up']);
      mkdirSync(join('/etc/netns', s.ns), { recursive: true });
      writeFileSync(join('/etc/netns', s.ns, 'hosts'), hosts);
    }
  }

  private async addNs(ns: string) {
    await ip(['netns', 'add', ns]);
    this.made.push(ns);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  /** Run a command inside a service's namespace (its processes see the service's address and names). */
  exec(service: string, command: string, args: string[], options: Options = {}) {
    return execa('ip', ['netns', 'exec', this.service(service).ns, command, ...args], options);
  }

  /**
   * Run a compose service as its container would: with only its environment, in its namespace and in
   * a mount namespace of its own where each named volume is a folder under `volumesDir` bound on the
   * volume's path (so pg1..pg3 each see their own /var/lib/postgresql). pgha's services need their
   * `image` (test/image/build.ts): the image's root folder under an overlay of its own (a container's
   * writable layer), its ENV, WORKDIR, USER (or compose's `user:`) and ENTRYPOINT + CMD. redis (the
   * upstream redis:7 image) runs the machine's redis-server instead. Output goes to `<volumesDir>/<name>.log`.
   */
  start(service: ComposeService, volumesDir: string, image?: Image) {
    if (!image && service.kind !== 'redis') throw new Error(`${service.name}: build its image first (test/image/build.ts); only redis runs from the machine`);
    const binds: string[] = [];
    for (const v of service.volumes) {
      const src = join(volumesDir, v.source);
      const fresh = !existsSync(src);
      mkdirSync(src, { recursive: true });
      if (image) {
        // a new named volume starts with the owner of the image's folder at that path, as Docker's do
        const inImage = join(image.rootfs, v.target);
        if (fresh && existsSync(inImage)) chownSync(src, statSync(inImage).uid, statSync(inImage).gid);
      } else if (!existsSync(v.target)) {
        // remember the outermost folder made, so that down() leaves the machine as it was
        let top = v.target;
        while (!existsSync(dirname(top))) top = dirname(top);
        mkdirSync(v.target, { recursive: true });
        this.mountPoints.push(top);
      }
      binds.push(src, v.target);
    }
    const log = { file: join(volumesDir, `${service.name}.log`), append: true };
    const ns = this.service(service.name).ns;
    let argv: string[];
    let env: Record<string, string>;
    let containerEnv: Record<string, string> | undefined;
    if (image) {
      const layer = join(volumesDir, '.containers', service.name);
      for (const d of ['upper', 'work', 'merged']) mkdirSync(join(layer, d), { recursive: true });
      // overlay the image, bind the volumes, /proc, /dev and the namespace's hosts file inside, then chroot
      const script =
        'M="$BED_LAYER/merged"; mount -t overlay overlay -o "lowerdir=$BED_LOWER,upperdir=$BED_LAYER/upper,workdir=$BED_LAYER/work" "$M" || exit 1; ' +
        'while [ "$1" != "--" ]; do mkdir -p "$M$2"; mount --bind "$1" "$M$2"; shift 2; done; shift; ' +
        'mount -t proc proc "$M/proc"; mount --rbind /dev "$M/dev"; [ -e "$M/etc/hosts" ] || : > "$M/etc/hosts"; mount --bind /etc/hosts "$M/etc/hosts"; ' +
        '[ -z "$BED_HOSTNAME" ] || hostname "$BED_HOSTNAME"; ' +
        'u="$BED_USER"; w="$BED_CWD"; unset BED_LAYER BED_LOWER BED_USER BED_CWD BED_HOSTNAME; ' +
        'if [ -n "$u" ]; then exec chroot "$M" setpriv --reuid="${u%%:*}" --regid="${u##*:}" --clear-groups env -C "$w" "$@"; fi; exec chroot "$M" env -C "$w" "$@"';
      const command = [...image.entrypoint, ...(service.command.length ? service.command : image.cmd)];
      // a UTS namespace too: the container's own host name (compose's hostname:)
      argv = ['netns', 'exec', ns, 'unshare', '--mount', '--uts', '--propagation', 'private', 'sh', '-c', script, 'sh', ...binds, '--', ...command];
      const user = service.user ?? image.user;
      containerEnv = { HOME: '/root', ...image.env, ...service.environment };
      env = { ...containerEnv, BED_LAYER: layer, BED_LOWER: image.rootfs, BED_CWD: image.workdir, ...(user ? { BED_USER: user } : {}), ...(service.hostname ? { BED_HOSTNAME: service.hostname } : {}) };
    } else {
      // the redis image: WORKDIR /data, and its entrypoint turns protected mode off when no config file is given
      const script = 'while [ "$1" != "--" ]; do mount --bind "$1" "$2"; shift 2; done; shift; cd /data; exec "$@"';
      argv = ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...binds, '--', ...service.command, '--protected-mode', 'no'];
      env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...service.environment };
    }
    const child = execa('ip', argv, { env, extendEnv: false, stdin: 'ignore', stdout: log, stderr: log, reject: false });
    // ip netns exec, unshare, sh and chroot each exec the next: this pid is the container's first process
    if (containerEnv) this.containers.set(service.name, { pid: child.pid!, env: containerEnv });
    return child;
  }

  /** A command inside a service's running container (as `docker exec`): its namespaces, root, folder and environment. */
  execInContainer(service: string, argv: string[], options: Options = {}) {
    const c = this.containers.get(service);
    if (!c) throw new Error(`${service} was not started from an image`);
    return execa('nsenter', ['--target', String(c.pid), '--mount', '--uts', '--net', '--root', '--wd', ...argv], { env: c.env, extendEnv: false, reject: false, ...options });
  }

  /** Stop a service like `docker kill`: every process in its namespace gets SIGKILL. */
  async kill(service: string): Promise<void> {
    await killAllIn(this.service(service).ns);
  }

  /** The service loses the network: its link goes down (processes keep running). */
  async cut(service: string): Promise<void> {
    const s = this.service(service);
    await ip(['-n', s.ns, 'link', 'set', s.link, 'down']);
  }

  async heal(service: string): Promise<void> {
    const s = this.service(service);
    await ip(['-n', s.ns, 'link', 'set', s.link, 'up']);
  }

  /** Pids of the processes running in a service's namespace. */
  async pids(service: string): Promise<number[]> {
    return pidsIn(this.service(service).ns);
  }

  /** Kill every process in the bed's namespaces, delete the namespaces (their links go with them) and the hosts files. */
  async down(): Promise<void> {
    for (const ns of [...this.services.map((s) => s.ns), this.hub]) {
      await killAllIn(ns);
      await execa('ip', ['netns', 'delete', ns], { reject: false });
      if (existsSync(join('/etc/netns', ns))) rmSync(join('/etc/netns', ns), { recursive: true, force: true });
    }
    this.made = [];
    // mount points the bed had to create on the machine (they were empty: the binds were private)
    for (const dir of this.mountPoints.reverse()) rmSync(dir, { recursive: true, force: true });
    this.mountPoints = [];
  }
}
