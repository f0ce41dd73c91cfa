import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyArgs, envArgs, execForm, parseDockerfile, stagesFor } from '../../test/image/dockerfile.js';

const repoDockerfile = readFileSync(join(import.meta.dirname, '..', '..', 'Dockerfile'), 'utf8');

describe('parseDockerfile (what the image emulation replays)', () => {
  it("reads pgha's Dockerfile: its stages, bases and the images' entrypoint, commands and users", () => {
    const stages = parseDockerfile(repoDockerfile);
    expect(stages.map((s) => [s.name, s.from])).toEqual([
      ['build', 'node:20-bookworm-slim'],
      ['runtime', 'debian:bookworm-slim'],
      ['node', 'runtime'],
      ['barman', 'runtime'],
      ['dashboard', 'runtime'],
    ]);
    const op = (stage: string, name: string) => stages.find((s) => s.name === stage)!.instructions.filter((i) => i.op === name).map((i) => i.args);
    expect(execForm(op('runtime', 'ENTRYPOINT')[0])).toEqual(['node', '/app/bin/pgha.js']);
    expect(execForm(op('node', 'CMD')[0])).toEqual(['worker', 'node']);
    expect(execForm(op('barman', 'CMD')[0])).toEqual(['worker', 'barman']);
    expect(op('dashboard', 'USER')).toEqual(['65534:65534']);
    expect(op('node', 'USER')).toEqual([]);
  });

  it('joins continued lines and drops comments, keeping the first line number', () => {
    const [s] = parseDockerfile('# c\nFROM debian:bookworm-slim AS b\nRUN apt-get update \\\n # inside\n && apt-get install -y x\n');
    expect(s.instructions).toEqual([{ op: 'RUN', args: 'apt-get update  && apt-get install -y x', line: 3 }]);
  });

  it('refuses what it does not replay, and instructions before FROM, naming the line', () => {
    expect(() => parseDockerfile('FROM debian:bookworm-slim\nHEALTHCHECK CMD true\n')).toThrow('Dockerfile line 2: HEALTHCHECK is not replayed by the image emulation');
    expect(() => parseDockerfile('RUN true\n')).toThrow('Dockerfile line 1: RUN before any FROM');
    expect(() => execForm('node app.js')).toThrow();
    expect(() => execForm('["a", 1]')).toThrow(/exec form/);
  });

  it('COPY, ENV arguments', () => {
    expect(copyArgs('--from=build /app/dist ./dist')).toEqual({ from: 'build', sources: ['/app/dist'], dest: './dist' });
    expect(copyArgs('package.json package-lock.json ./')).toEqual({ sources: ['package.json', 'package-lock.json'], dest: './' });
    expect(() => copyArgs('onlyone')).toThrow(/source and a destination/);
    expect(envArgs('NODE_ENV=production')).toEqual({ NODE_ENV: 'production' });
    expect(envArgs('A=1 B="two"')).toEqual({ A: '1', B: 'two' });
    expect(envArgs('LANG C.UTF-8')).toEqual({ LANG: 'C.UTF-8' });
  });

  it('stagesFor: a target with its FROM chain and the stages it copies from, each once, in build order', () => {
    const stages = parseDockerfile(repoDockerfile);
    expect(stagesFor(stages, 'node').map((s) => s.name)).toEqual(['build', 'runtime', 'node']);
    expect(stagesFor(stages, 'dashboard').map((s) => s.name)).toEqual(['build', 'runtime', 'dashboard']);
    expect(() => stagesFor(stages, 'nope')).toThrow('no stage named nope');
  });
});

describe("compose's healthcheck.test as a command line", () => {
  it('CMD, CMD-SHELL, a plain string; anything else is none', async () => {
    const { healthcheckCommand } = await import('../../test/bed/compose.js');
    expect(healthcheckCommand(['CMD', 'redis-cli', 'ping'])).toEqual(['redis-cli', 'ping']);
    expect(healthcheckCommand(['CMD-SHELL', 'curl -f http://x || exit 1'])).toEqual(['sh', '-c', 'curl -f http://x || exit 1']);
    expect(healthcheckCommand('pg_isready')).toEqual(['sh', '-c', 'pg_isready']);
    expect(healthcheckCommand(['NONE'])).toBeUndefined();
    expect(healthcheckCommand(undefined)).toBeUndefined();
  });
});
