// The mutant worker of node-test-runner.mjs: a long-lived process that runs one mutant per message: the wanted
// top-level tests of the given files, in file order, stopping at the first failure. With `fresh`, the files are
// imported anew (generation N: hooks.mjs loads every project module fresh), so module-level code runs with the
// mutant active; otherwise the modules loaded for earlier mutants are reused and only the active mutant changes.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register(new URL('./hooks.mjs', import.meta.url), { data: { root: pathToFileURL(process.cwd()).href + '/' } });
const { registry } = await import(new URL('./node-test-shim.mjs', import.meta.url).href);

const ns = (globalThis.__stryker__ = globalThis.__stryker__ || {});
let gen = 0;
let stray = [];
process.on('unhandledRejection', (e) => stray.push(e));
process.on('uncaughtException', (e) => stray.push(e));

const message = (e) => String(e?.message ?? e).slice(0, 400);

/** Generation 1 is shared by mutants that no file's loading runs; a mutant that loading runs gets its own. */
const shared = { gen: 0, files: new Map() };

async function load(files, gen, into, failed) {
  for (const file of files) {
    if (into.has(file)) continue;
    registry.tests = [];
    registry.file = file;
    try {
      await import(`${pathToFileURL(resolve(file)).href}?gen=${gen}`);
      // Each file ran in its own process in `npm test`: its tests see the environment its loading left.
      const env = { ...process.env };
      for (const t of registry.tests) t.env = env;
      into.set(file, registry.tests);
    } catch (e) {
      failed.push({ id: `${file}#`, name: file, message: `loading failed: ${message(e)}` });
      return false;
    }
  }
  return true;
}

async function runMutant({ activeMutant, hitLimit, files, names, bail, fresh }) {
  ns.activeMutant = activeMutant;
  if (hitLimit) (ns.hitLimit = hitLimit), (ns.hitCount = 0);
  else delete ns.hitLimit, delete ns.hitCount;
  stray = [];
  const failed = [];
  const tests = [];
  const wanted = names ? new Set(names) : undefined;
  const fileGen = fresh ? ++gen : (shared.gen ||= ++gen);
  const loaded = fresh ? new Map() : shared.files;
  // File by file: load it (fresh or not), run its tests; a failure stops before the next file is even loaded.
  for (const file of files) {
    if (!(await load([file], fileGen, loaded, failed))) {
      if (bail) return { tests, failed, hitCount: ns.hitCount };
      continue;
    }
    for (const t of loaded.get(file) ?? []) {
      if (t.skip || (wanted && !wanted.has(t.name))) continue;
      const id = `${t.file}#${t.name}`;
      for (const k of Object.keys(process.env)) if (!(k in t.env)) delete process.env[k];
      Object.assign(process.env, t.env);
      const started = performance.now();
      registry.current = { after: [] };
      let error;
      try {
        await t.fn({ name: t.name, fullName: t.name, diagnostic() {} });
      } catch (e) {
        error = e;
      }
      for (const fn of registry.current.after.reverse()) {
        try {
          await fn();
        } catch (e) {
          error ??= e;
        }
      }
      registry.current = undefined;
      if (!error && stray.length) error = stray[0];
      tests.push({ id, ms: performance.now() - started, ...(error ? { failed: true } : {}) });
      if (error) {
        failed.push({ id, name: t.name, message: message(error) });
        if (bail) return { tests, failed, hitCount: ns.hitCount };
      }
    }
  }
  return { tests, failed, hitCount: ns.hitCount };
}

process.on('message', async (m) => {
  try {
    process.send({ id: m.id, result: await runMutant(m) });
  } catch (e) {
    process.send({ id: m.id, error: message(e) });
  }
});
process.send({ ready: true });
