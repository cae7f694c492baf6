// Preloaded into each file of the fast suites (scripts/test.sh unit, paths): a test file whose process is still
// alive a few seconds after its last test (a timer, a socket, a child process left behind) fails, naming what
// keeps it alive, instead of holding the suite up until the leak lets go (a 60 s timer once cost the unit suite
// 60 s). The check's own timer is unref'd: it fires only when something else keeps the process alive.
import { after } from 'node:test';

const GRACE_MS = 5000;

after(() => {
  const check = setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    process.stderr.write(`leak-check: still running ${GRACE_MS / 1000} s after its tests ended, kept alive by: ${left.join(', ') || 'unknown'}\n`);
    process.exit(1);
  }, GRACE_MS);
  check.unref();
});
