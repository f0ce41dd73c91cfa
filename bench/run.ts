// `npm run bench` (all, several trials) and `npm run bench -- --quick` (one trial each).
import { benchBootstrap } from './bootstrap.js';
import { report } from './lib.js';

const quick = process.argv.includes('--quick');
const trials = quick ? 1 : Number(process.env.BENCH_TRIALS ?? 5);
const log = (s: string) => console.error(s);
const figures = [await benchBootstrap(trials, log)];
console.log(report(figures));
