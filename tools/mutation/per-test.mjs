// Preloaded (--import) by node-test-runner.mjs in the dry run: names the running top-level test in Stryker's
// namespace, so the instrumented code records which test executed which mutant (per-test coverage).
// Root-level hooks apply to every test of every file loaded into the process.
import { afterEach, beforeEach } from 'node:test';

const ns = (globalThis.__stryker__ = globalThis.__stryker__ || {});
const file = process.env.SENTINEL_STRYKER_FILE;
const top = (t) => (t.fullName ?? t.name).split(' > ')[0];
beforeEach((t) => {
  ns.currentTestId = `${file}#${top(t)}`;
});
afterEach((t) => {
  if ((t.fullName ?? t.name) === t.name) ns.currentTestId = undefined;
});
