// What the fast suites use of node:test (test, it, describe, before/after hooks), for the mutant worker: test()
// only records the test; worker.mjs runs the recorded tests of the current generation in order.
export const registry = { tests: [], current: undefined };

function add(name, options, fn) {
  if (typeof options === 'function') [fn, options] = [options, {}];
  if (registry.current) throw new Error('subtests are not supported by the mutant worker');
  registry.tests.push({ name, fn, skip: Boolean(options?.skip || options?.todo), file: registry.file });
}
export const test = (name, options, fn) => add(name, options, fn);
export const it = test;
export function describe(name, options, fn) {
  if (typeof options === 'function') fn = options;
  const before = registry.tests.length;
  fn();
  // Tests inside a suite are named by the suite (coverage is per top-level name).
  for (const t of registry.tests.slice(before)) t.name = name;
}
export const suite = describe;
export function after(fn) {
  if (!registry.current) throw new Error('a top-level after() is not supported by the mutant worker');
  registry.current.after.push(fn);
}
export function before() {
  throw new Error('before() is not supported by the mutant worker');
}
export const beforeEach = before;
export const afterEach = before;
export default test;
