// Benchmark of the Lambda bundles that infra/bundles.ts builds (the production build options live there): each
// bundle's size and module init time against the targets.
//
// Run: node_modules/.bin/node --import tsx bench/bundles.ts   (targets: ≤ 400 KB minified, ≤ 150 ms module init)
// Init is measured in a fresh Node process with the SDK loaded from this project's node_modules (standing in for the
// runtime's): the bundles are written under a temp dir whose node_modules is a symlink to the project's
// (provideSdk). NODE_PATH would not do: Node's ESM resolver ignores it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildLambda, lambdaEntries, PLACEHOLDER_ENV, provideSdk } from '../infra/bundles.js';

export const TARGET_KB = 400;
export const TARGET_INIT_MS = 150;

/** Module init of one bundle, measured in a fresh Node process (import only; Node's own startup excluded). */
export function measureInit(node: string, bundle: string, runs = 5): number[] {
  const probe = join(dirname(bundle), 'init-probe.mjs');
  writeFileSync(probe, `const t0 = performance.now();\nawait import(${JSON.stringify(pathToFileURL(bundle).href)});\nconsole.log(JSON.stringify({ ms: performance.now() - t0 }));\n`);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(node, [probe], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...PLACEHOLDER_ENV } });
    if (r.status !== 0) throw new Error(`importing ${bundle} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    times.push((JSON.parse(line) as { ms: number }).ms);
  }
  return times;
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main() {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const node = join(root, 'node_modules/.bin/node');
  const outdir = mkdtempSync(join(tmpdir(), 'sentinel-bundles-'));
  provideSdk(outdir, root);
  const rows: string[][] = [['function', 'size KB', `init ms (median of 5)`, 'within targets']];
  let allOk = true;
  try {
    for (const e of lambdaEntries(root)) {
      const b = await buildLambda(e, outdir);
      const kb = b.bytes / 1024;
      const init = median(measureInit(node, b.outfile));
      const ok = kb <= TARGET_KB && init <= TARGET_INIT_MS;
      allOk &&= ok;
      rows.push([e.name, kb.toFixed(1), init.toFixed(1), ok ? 'yes' : `NO${kb > TARGET_KB ? ' (size)' : ''}${init > TARGET_INIT_MS ? ' (init)' : ''}`]);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`Lambda bundles (esbuild: ESM, minified, tree-shaken, node22; AWS SDK external, loaded from node_modules). Targets: ≤ ${TARGET_KB} KB, ≤ ${TARGET_INIT_MS} ms init.`);
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log(allOk ? 'all bundles within targets' : 'some bundles miss a target');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
