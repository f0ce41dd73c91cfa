#!/usr/bin/env node
// The CLI is compiled by `npm run build`; this shim keeps `npx pgha` working from the repo.
// A config problem (ConfigError) is printed as its lines, path: what is wrong, and exits 2.
import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  if (err && Array.isArray(err.problems)) {
    for (const p of err.problems) console.error(p);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
