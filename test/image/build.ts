// Image emulation without a Docker engine: replays the Dockerfile's stages into root folders.
// Base images come from Debian's own archive (debootstrap bookworm, what debian:bookworm-slim is);
// node:20-bookworm-slim is that plus this machine's Node 20 at /usr/local/bin (where the official
// image keeps it). RUN runs in a chroot (with /proc and /dev, in a mount namespace of its own),
// COPY copies from the build context or an earlier stage, the rest is kept as the image's config.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { execa } from 'execa';
import { copyArgs, envArgs, execForm, parseDockerfile, stagesFor, type Stage } from './dockerfile.js';

export interface Image {
  target: string;
  rootfs: string;
  env: Record<string, string>;
  workdir: string;
  /** USER, as given (a name or UID[:GID]); undefined: root. */
  user?: string;
  entrypoint: string[];
  cmd: string[];
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MIRROR = 'http://deb.debian.org/debian';

/** debian:bookworm-slim's stand-in, made once into `dir`. */
async function debianBase(dir: string, log: (s: string) => void): Promise<string> {
  const base = join(dir, 'debian-bookworm');
  if (existsSync(join(base, '.done'))) return base;
  rmSync(base, { recursive: true, force: true });
  log('debootstrap bookworm (minbase) …');
  await execa('debootstrap', ['--variant=minbase', 'bookworm', base, MIRROR]);
  // as in a container build: packages' maintainer scripts must not start services
  writeFileSync(join(base, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  writeFileSync(join(base, 'etc/apt/sources.list'), `deb ${MIRROR} bookworm main\ndeb ${MIRROR} bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n`);
  writeFileSync(join(base, '.done'), '');
  return base;
}

async function baseImage(from: string, dir: string, into: string, log: (s: string) => void): Promise<void> {
  if (from !== 'debian:bookworm-slim' && from !== 'node:20-bookworm-slim') throw new Error(`FROM ${from}: no stand-in for this base image`);
  await copyTree(await debianBase(dir, log), into);
  if (from.startsWith('node:')) {
    cpSync(process.execPath, join(into, 'usr/local/bin/node'));
    const npm = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
    cpSync(npm, join(into, 'usr/local/lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(into, 'usr/local/bin/npm'));
  }
}

const copyTree = (from: string, to: string) => execa('cp', ['-a', `${from}/.`, `${to}/`]).then(() => undefined);

/** A command in the stage's root folder, as RUN does: /bin/sh -c, the stage's environment and WORKDIR. */
async function runIn(rootfs: string, command: string, env: Record<string, string>, workdir: string): Promise<void> {
  cpSync('/etc/resolv.conf', join(rootfs, 'etc/resolv.conf'));
  // this machine reaches the registries through a proxy with its own CA: the build (only) trusts it too
  const hostCa = process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt';
  const buildEnv: Record<string, string> = {};
  if (existsSync(hostCa)) {
    cpSync(hostCa, join(rootfs, 'etc/ssl/build-host-ca.crt'));
    buildEnv.NODE_EXTRA_CA_CERTS = '/etc/ssl/build-host-ca.crt';
  }
  const script = 'mount -t proc proc "$R/proc" && mount --rbind /dev "$R/dev" && exec chroot "$R" /bin/sh -c "cd \\"$W\\" && $C"';
  await execa('unshare', ['--mount', '--fork', 'sh', '-c', script], {
    env: { PATH: DEFAULT_PATH, HOME: '/root', ...buildEnv, ...env, R: rootfs, W: workdir, C: command },
    extendEnv: false,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function copyInto(sources: string[], dest: string, root: string, fromRoot: string, workdir: string) {
  const target = join(root, isAbsolute(dest) ? dest : posix.join(workdir, dest));
  const intoDir = dest.endsWith('/') || sources.length > 1;
  for (const src of sources) {
    const from = join(fromRoot, src);
    if (statSync(from).isDirectory()) {
      mkdirSync(target, { recursive: true });
      cpSync(from, target, { recursive: true, verbatimSymlinks: true });
    } else if (intoDir) {
      mkdirSync(target, { recursive: true });
      cpSync(from, join(target, posix.basename(src)));
    } else {
      mkdirSync(dirname(target), { recursive: true });
      cpSync(from, target);
    }
  }
}

/** Build `targets` of the Dockerfile at `context`/Dockerfile into folders under `dir`. */
export async function buildImages(context: string, targets: string[], dir: string, log: (s: string) => void = () => {}): Promise<Map<string, Image>> {
  const stages = parseDockerfile(readFileSync(join(context, 'Dockerfile'), 'utf8'));
  const built = new Map<string, Image>();
  const build = async (stage: Stage) => {
    const rootfs = join(dir, `stage-${stage.name}`);
    rmSync(rootfs, { recursive: true, force: true });
    mkdirSync(rootfs, { recursive: true });
    const parent = built.get(stage.from);
    let image: Image;
    if (parent) {
      await copyTree(parent.rootfs, rootfs);
      image = { ...parent, target: stage.name, rootfs, env: { ...parent.env } };
    } else {
      await baseImage(stage.from, dir, rootfs, log);
      image = { target: stage.name, rootfs, env: { PATH: DEFAULT_PATH }, workdir: '/', entrypoint: [], cmd: [] };
    }
    for (const i of stage.instructions) {
      log(`[${stage.name}] ${i.op} ${i.args.length > 100 ? `${i.args.slice(0, 100)}…` : i.args}`);
      switch (i.op) {
        case 'RUN':
          await runIn(rootfs, i.args, image.env, image.workdir);
          break;
        case 'COPY': {
          const c = copyArgs(i.args);
          const fromRoot = c.from ? built.get(c.from)?.rootfs : context;
          if (!fromRoot) throw new Error(`line ${i.line}: COPY --from=${c.from}: stage not built`);
          copyInto(c.sources, c.dest, rootfs, fromRoot, image.workdir);
          break;
        }
        case 'ENV':
          Object.assign(image.env, envArgs(i.args));
          break;
        case 'WORKDIR':
          image.workdir = posix.resolve(image.workdir, i.args);
          mkdirSync(join(rootfs, image.workdir), { recursive: true });
          break;
        case 'USER':
          image.user = i.args;
          break;
        case 'ENTRYPOINT':
          image.entrypoint = execForm(i.args);
          image.cmd = [];
          break;
        case 'CMD':
          image.cmd = execForm(i.args);
          break;
        // EXPOSE: documentation only
      }
    }
    built.set(stage.name, image);
  };
  const order: Stage[] = [];
  for (const t of targets) for (const s of stagesFor(stages, t)) if (!order.includes(s)) order.push(s);
  for (const s of order) await build(s);
  return new Map(targets.map((t) => [t, built.get(t)!]));
}
