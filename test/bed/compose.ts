// What the test bed takes from docker-compose.yml: each service's command, environment (with
// compose's ${VAR}, ${VAR:-default} and ${VAR:?message} read from an .env), volumes, image and
// start order, and the network's subnet. Pure, so the reading is checked without root.
import { parse } from 'yaml';

export interface ComposeService {
  name: string;
  /** `redis` for the redis image, else pgha's images (entrypoint `node bin/pgha.js`). */
  kind: 'redis' | 'pgha';
  command: string[];
  environment: Record<string, string>;
  /** Named volumes: `source` is the volume's name, `target` the path inside the service. */
  volumes: { source: string; target: string }[];
  dependsOn: string[];
  /** `user: "UID:GID"`: the service runs as that user instead of root. */
  user?: string;
  /** `build: { target }`: the Dockerfile stage its image is built from. */
  buildTarget?: string;
  hostname?: string;
  /** `healthcheck.test` as a command line (CMD-SHELL runs through sh -c). */
  healthcheck?: string[];
}

/** compose's healthcheck.test: ["CMD", …], ["CMD-SHELL", "…"] or a string (pure). */
export function healthcheckCommand(test: unknown): string[] | undefined {
  if (typeof test === 'string') return ['sh', '-c', test];
  if (!Array.isArray(test) || !test.length) return undefined;
  const [kind, ...rest] = test.map(String);
  if (kind === 'CMD') return rest;
  if (kind === 'CMD-SHELL') return ['sh', '-c', rest.join(' ')];
  return undefined;
}

export interface ComposeFile {
  services: ComposeService[];
  /** The default network's subnet, e.g. 172.30.42.0/24. */
  subnet: string;
}

/** compose's variable substitution, for the forms our compose file uses. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string) => {
    const v = env[name];
    const unset = op?.startsWith(':') ? !v : v === undefined;
    if (op?.endsWith('?') && unset) throw new Error(`compose: ${name} is not set: ${arg}`);
    if (op?.endsWith('-') && unset) return arg;
    return v ?? '';
  });
}

export function readCompose(text: string, env: Record<string, string | undefined>): ComposeFile {
  const doc = parse(text, { merge: true });
  const services = Object.entries(doc.services as Record<string, any>).map(([name, s]): ComposeService => {
    const environment = Object.fromEntries(Object.entries((s.environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, interpolate(String(v), env)]));
    const volumes = ((s.volumes ?? []) as string[]).map((v) => {
      const [source, target] = v.split(':');
      return { source, target };
    });
    const image = String(s.image ?? '');
    return { name, kind: image.startsWith('redis') ? 'redis' : 'pgha', command: (s.command ?? []).map(String), environment, volumes, dependsOn: Object.keys(s.depends_on ?? {}), ...(s.user ? { user: String(s.user) } : {}), ...(s.build?.target ? { buildTarget: String(s.build.target) } : {}), ...(s.hostname ? { hostname: String(s.hostname) } : {}), ...(healthcheckCommand(s.healthcheck?.test) ? { healthcheck: healthcheckCommand(s.healthcheck?.test) } : {}) };
  });
  const subnet = doc.networks?.default?.ipam?.config?.[0]?.subnet;
  if (!subnet) throw new Error('compose: networks.default.ipam.config[0].subnet is missing');
  return { services, subnet };
}

/** Services in an order where each comes after what it depends on. */
export function startOrder(services: ComposeService[]): ComposeService[] {
  const out: ComposeService[] = [];
  const visit = (s: ComposeService, path: string[]) => {
    if (out.includes(s)) return;
    if (path.includes(s.name)) throw new Error(`compose: depends_on cycle ${[...path, s.name].join(' → ')}`);
    for (const d of s.dependsOn) visit(services.find((x) => x.name === d)!, [...path, s.name]);
    out.push(s);
  };
  for (const s of services) visit(s, []);
  return out;
}
