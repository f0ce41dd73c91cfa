#!/usr/bin/env node
// The CLI is compiled by `npm run build`; this shim keeps `npx pgha` working from the repo.
import('../dist/cli/main.js').then((m) => m.main(process.argv)).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
