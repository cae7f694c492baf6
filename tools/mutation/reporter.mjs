// node:test reporter used by node-test-runner.mjs: records each top-level test's outcome and time as JSON in
// $SENTINEL_STRYKER_RESULT and, unless SENTINEL_STRYKER_BAIL=false, ends the process at the first failure.
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';

export default async function* reporter(source) {
  const out = process.env.SENTINEL_STRYKER_RESULT;
  const bail = process.env.SENTINEL_STRYKER_BAIL !== 'false';
  const result = { tests: [], failed: [] };
  const save = () => out && writeFileSync(out, JSON.stringify(result));
  const idOf = (d) => `${relative(process.cwd(), d.file ?? '')}#${d.name}`;
  let current = '';
  for await (const ev of source) {
    const d = ev.data;
    if (ev.type === 'test:start' && d.nesting === 0) current = idOf(d);
    else if (ev.type === 'test:pass' && d.nesting === 0 && !d.skip && !d.todo) {
      result.tests.push({ id: idOf(d), ms: d.details?.duration_ms ?? 0 });
    } else if (ev.type === 'test:fail' && !d.todo) {
      const err = d.details?.error;
      const message = String(err?.cause?.message ?? err?.cause ?? err?.message ?? err).slice(0, 400);
      const id = d.nesting === 0 ? idOf(d) : current;
      result.failed.push({ id, name: d.name, message });
      if (d.nesting === 0) result.tests.push({ id, ms: d.details?.duration_ms ?? 0, failed: true });
      if (bail) {
        save();
        process.exit(1);
      }
    }
  }
  save();
}
