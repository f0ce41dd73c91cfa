// Reads a Dockerfile into its stages (pure): what the image emulation (build.ts) replays without a
// Docker engine. Covers what pgha's Dockerfile uses: FROM … AS, RUN, COPY [--from=], ENV, WORKDIR,
// USER, EXPOSE, ENTRYPOINT and CMD (exec form), comments and line continuations.

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

export const SUPPORTED = new Set(['RUN', 'COPY', 'ENV', 'WORKDIR', 'USER', 'EXPOSE', 'ENTRYPOINT', 'CMD']);

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    // a trailing backslash joins the next line; comment lines inside a continuation are dropped
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line = line.replace(/\\\s*$/, ' ') + lines[i].trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot read "${line.trim()}"`);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile line ${start}: FROM ${args}`);
      stages.push({ name: f[2] ?? `stage${stages.length}`, from: f[1], instructions: [] });
      continue;
    }
    if (!SUPPORTED.has(op)) throw new Error(`Dockerfile line ${start}: ${op} is not replayed by the image emulation`);
    if (!stages.length) throw new Error(`Dockerfile line ${start}: ${op} before any FROM`);
    stages[stages.length - 1].instructions.push({ op, args, line: start });
  }
  return stages;
}

/** COPY's arguments: optional --from=STAGE, sources, destination. */
export function copyArgs(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const from = words[0].startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
  if (words.length < 2) throw new Error(`COPY ${args}: needs a source and a destination`);
  return { from, sources: words.slice(0, -1), dest: words[words.length - 1] };
}

/** ENV k=v [k=v …] or ENV k v. */
export function envArgs(args: string): Record<string, string> {
  if (!/^\S+=/.test(args)) {
    const [k, ...v] = args.split(/\s+/);
    return { [k]: v.join(' ') };
  }
  return Object.fromEntries(args.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1).replace(/^"(.*)"$/, '$1')]));
}

/** ENTRYPOINT/CMD in exec form (a JSON array). */
export function execForm(args: string): string[] {
  const v = JSON.parse(args) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${args}: only the exec form ["…", …] is replayed`);
  return v;
}

/** The stages a target needs, in build order (its FROM chain and every COPY --from). */
export function stagesFor(stages: Stage[], target: string): Stage[] {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const order: Stage[] = [];
  const visit = (name: string) => {
    const s = byName.get(name);
    if (!s || order.includes(s)) return;
    visit(s.from);
    for (const i of s.instructions) if (i.op === 'COPY') visit(copyArgs(i.args).from ?? '');
    order.push(s);
  };
  if (!byName.has(target)) throw new Error(`no stage named ${target}`);
  visit(target);
  return order;
}
