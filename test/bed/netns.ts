// A multi-host test bed without Docker: one network namespace per docker-compose service, joined by
// a bridge that lives in a hub namespace of its own (the machine's own network is never touched),
// with compose's service names resolvable inside each namespace (`ip netns exec` bind-mounts
// /etc/netns/<ns>/hosts over /etc/hosts). It can start a command in a service's namespace, cut a
// service off the network (its link down) and heal it, and it removes every namespace, link and
// hosts file it made, also after a failure (down() is idempotent).
import { mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa, type Options } from 'execa';

export interface BedService {
  name: string;
  ns: string;
  ip: string;
  /** The service's end of its link (inside its namespace). */
  link: string;
}

/** Addresses and names of a bed: pure, so that the layout is checked without root (pure). */
export function planBed(id: string, services: string[], subnet = 231): { hub: string; bridge: string; services: BedService[] } {
  if (!/^[a-z0-9]{1,6}$/.test(id)) throw new Error(`bed id must be 1-6 lowercase letters or digits (got ${id})`);
  if (services.length > 200) throw new Error('at most 200 services');
  return {
    hub: `pgha-${id}-hub`,
    bridge: 'br0',
    services: services.map((name, i) => ({
      name,
      ns: `pgha-${id}-${name}`,
      ip: `10.${subnet}.${Math.floor((i + 10) / 250)}.${((i + 10) % 250) + 1}`,
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

export class NetnsBed {
  readonly id: string;
  readonly hub: string;
  readonly services: BedService[];
  private made: string[] = [];

  constructor(serviceNames: string[], id = randomBytes(3).toString('hex')) {
    const plan = planBed(id, serviceNames);
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
      await ip(['-n', s.ns, 'addr', 'add', `${s.ip}/16`, 'dev', s.link]);
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
    const r = await execa('ip', ['netns', 'pids', this.service(service).ns], { reject: false });
    return r.stdout.split('\n').filter(Boolean).map(Number);
  }

  /** Kill every process in the bed's namespaces, delete the namespaces (their links go with them) and the hosts files. */
  async down(): Promise<void> {
    for (const ns of [...this.services.map((s) => s.ns), this.hub]) {
      const r = await execa('ip', ['netns', 'pids', ns], { reject: false });
      for (const pid of r.stdout.split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await execa('ip', ['netns', 'delete', ns], { reject: false });
      if (existsSync(join('/etc/netns', ns))) rmSync(join('/etc/netns', ns), { recursive: true, force: true });
    }
    this.made = [];
  }
}
