// The code's layout as the README describes it: no import cycle, and src/ (the library) imports
// nothing from the folders that use it (cli/, jobs/, workers/, dashboard/). Static imports and
// dynamic import('…') both count.
import { describe, it, expect } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const FOLDERS = ['src', 'cli', 'jobs', 'workers', 'dashboard'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every module's local imports (repo-relative paths, .ts), type-only imports left out: they vanish at run time. */
export function importGraph(root: string, folders: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of folders.flatMap((f) => tsFiles(join(root, f)))) {
    const text = readFileSync(file, 'utf8');
    const specs = [
      ...[...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]),
      ...[...text.matchAll(/^export\s+(?!type\s)[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]),
      ...[...text.matchAll(/^import\s+'(\.[^']+)'/gm)].map((m) => m[1]),
      ...[...text.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => m[1]),
    ];
    graph.set(
      relative(root, file),
      specs.map((s) => relative(root, normalize(join(dirname(file), s.replace(/\.js$/, '.ts'))))),
    );
  }
  return graph;
}

/** One import cycle, as the list of its modules, or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (m: string): string[] | null => {
    if (state.get(m) === 'done') return null;
    if (state.get(m) === 'open') return [...path.slice(path.indexOf(m)), m];
    state.set(m, 'open');
    path.push(m);
    for (const d of graph.get(m) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(m, 'done');
    return null;
  };
  for (const m of graph.keys()) {
    const c = visit(m);
    if (c) return c;
  }
  return null;
}

describe('layout', () => {
  const graph = importGraph(repoRoot, FOLDERS);

  it('reads the whole tree (the scan is not blind)', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('cli/main.ts')).toContain('src/config/load.ts');
    expect(graph.get('cli/main.ts')).toContain('workers/node-worker.ts');
  });

  it('no import cycle', () => {
    expect(findCycle(graph)).toBeNull();
  });

  it('src/ imports nothing from cli/, jobs/, workers/ or dashboard/', () => {
    const uphill = [...graph].flatMap(([m, deps]) => (m.startsWith('src/') ? deps.filter((d) => !d.startsWith('src/')).map((d) => `${m} → ${d}`) : []));
    expect(uphill).toEqual([]);
  });

  it('the cycle finder finds a cycle in a made-up graph, and none where there is none', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b']], ['b', []], ['c', ['a', 'b']]]))).toBeNull();
  });
});
