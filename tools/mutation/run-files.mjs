// Imports node:test files into this one process, in the order given; their tests run in that order (node:test
// without --test). Used by node-test-runner.mjs together with per-test.mjs and reporter.mjs.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

for (const f of process.argv.slice(2)) await import(pathToFileURL(resolve(f)).href);
