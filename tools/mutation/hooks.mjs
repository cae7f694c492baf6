// Module resolve hook for the mutant worker (worker.mjs): `node:test` resolves to node-test-shim.mjs, and every
// project module imported from a module loaded as `?gen=N` is loaded as `?gen=N` too, so each mutant gets fresh
// instances of the project's modules (module-level code re-runs with that mutant active) while node_modules stay
// loaded once.
const SHIM = new URL('./node-test-shim.mjs', import.meta.url).href;
let root = '';

export async function initialize(data) {
  root = data.root;
}

export async function resolve(specifier, context, next) {
  if (specifier === 'node:test' || specifier === 'test') return { url: SHIM, shortCircuit: true };
  const r = await next(specifier, context);
  const gen = context.parentURL && /[?&]gen=(\d+)/.exec(context.parentURL)?.[1];
  if (gen && r.url.startsWith(root) && !r.url.includes('/node_modules/') && !r.url.includes('?')) return { ...r, url: `${r.url}?gen=${gen}` };
  return r;
}
