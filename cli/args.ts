// Parsers of command-line values for commander (the CLI's and the nemesis scripts'): each refuses a
// value naming the option and what it takes.
import { InvalidArgumentError } from 'commander';

/** A whole number, at least `min` when given. */
export const wholeNumber = (name: string, min?: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || (min !== undefined && n < min)) throw new InvalidArgumentError(`${name} must be a whole number${min !== undefined ? ` of at least ${min}` : ''} (got ${v})`);
  return n;
};

/** One of `known`, or with `list` a comma list of them. */
export function oneOf<T extends string>(name: string, known: readonly T[]): (v: string) => T;
export function oneOf<T extends string>(name: string, known: readonly T[], list: true): (v: string) => T[];
export function oneOf<T extends string>(name: string, known: readonly T[], list = false) {
  return (v: string) => {
    const names = list ? v.split(',') : [v];
    const bad = names.filter((n) => !(known as readonly string[]).includes(n));
    if (bad.length) throw new InvalidArgumentError(`${name}: unknown ${bad.join(', ')}; known: ${known.join(', ')}`);
    return list ? (names as T[]) : (names[0] as T);
  };
}
