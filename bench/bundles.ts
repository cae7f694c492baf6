// Lambda bundles: one esbuild build per entry in functions/aws/ (ESM, minified, tree-shaken, node22). This module is
// the one definition of those build options: infra/functions.ts deploys exactly what this benchmark measures.
//
// The AWS SDK v3 (@aws-sdk/* and @smithy/*) is external, not bundled: infra/functions.ts sets every function's
// runtime to nodejs22.x, whose image ships SDK v3 in /var/runtime/node_modules, and the bundle's
// `import … from '@aws-sdk/client-…'` resolves there. Bundled, the clients were most of each bundle (client-s3 with
// its schemas ~165 KB, @smithy/core ~130 KB) and of its module init; external, every bundle is well under 400 KB.
// The trade-off: package.json pins 3.1163.0 and the tests run against that, while Lambda runs whatever SDK v3 the
// runtime carries (AWS updates it, it may lag or lead our pin, and it only moves within the major version). What we
// call is the long-stable core of v3, so the skew is accepted: the client constructors with a region
// ({ region } / defaults), `client.send(new XCommand(input))` for S3 Get/Head/List(V2)/PutObject, DynamoDB
// Get/Put/DeleteItem, Step Functions StartExecution/SendTask*, EventBridge PutEvents, EKS DescribeCluster/
// DescribeNodegroup/UpdateNodegroupConfig, the shapes of those inputs and outputs (the service APIs themselves,
// versioned by AWS, not by the SDK), and @smithy/signature-v4's SignatureV4.presign for the EKS token (the SigV4
// algorithm; the class has kept that API since v3's first release). Credentials come from the runtime SDK's default
// chain, whose first provider reads the execution role's session from the environment, so nothing else is tried.
// To pin the SDK again (e.g. to get a fix before the runtime does), drop SDK_EXTERNALS from the options: the bundle
// then carries the pinned clients and grows past the size target.
//
// Run: node_modules/.bin/node --import tsx bench/bundles.ts   (targets: ≤ 400 KB minified, ≤ 150 ms module init)
// Init is measured in a fresh Node process with the SDK loaded from this project's node_modules (standing in for the
// runtime's): the bundles are written under a temp dir whose node_modules is a symlink to the project's
// (provideSdk). NODE_PATH would not do: Node's ESM resolver ignores it.
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const LAMBDA_ENTRY_DIR = 'functions/aws';
/** Not a handler: the shared dependency wiring of the entries. */
const NOT_ENTRIES = new Set(['deps.ts', 'cluster-deps.ts']);

export const TARGET_KB = 400;
export const TARGET_INIT_MS = 150;

export interface LambdaEntry {
  /** Logical function name (the file name): prepare-run, submit-stage, … */
  name: string;
  /** Absolute path of the entry module. */
  entry: string;
}

/** Every handler entry in functions/aws/ (each exports `handler`). */
export function lambdaEntries(root: string): LambdaEntry[] {
  const dir = join(root, LAMBDA_ENTRY_DIR);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !NOT_ENTRIES.has(f))
    .sort()
    .map((f) => ({ name: basename(f, '.ts'), entry: join(dir, f) }));
}

/** ESM bundles that pull in CommonJS packages need a real `require` for Node built-ins. */
const REQUIRE_SHIM = "import{createRequire as __sentinelRequire}from'node:module';const require=__sentinelRequire(import.meta.url);";

/**
 * zod 4's `import { z } from 'zod'` hands esbuild the namespace as a value, which keeps every export alive, all
 * locales included (~370 KB minified). Importing the classic API as a namespace (`import * as z`) lets esbuild
 * keep only what is used; the code and its types are unchanged (same module, same exports).
 */
const ZOD_CLASSIC = 'sentinel:zod-classic';
const zodNamespace: Plugin = {
  name: 'sentinel-zod-namespace',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const src = readFileSync(args.path, 'utf8');
      const out = src.replace(/^import \{ z \} from 'zod';$/m, `import * as z from '${ZOD_CLASSIC}';`);
      return out === src ? undefined : { contents: out, loader: 'ts' };
    });
    b.onResolve({ filter: /^sentinel:zod-classic$/ }, async (args) => {
      const pkg = await b.resolve('zod/package.json', { kind: 'import-statement', resolveDir: args.resolveDir });
      if (pkg.errors.length) return { errors: pkg.errors };
      return { path: join(dirname(pkg.path), 'v4/classic/external.js') };
    });
  },
};

/**
 * Packages whose modules have no import-time side effects but do not say so (no "sideEffects": false), so esbuild
 * keeps them whenever they are imported at all. yaml (~110 KB): core/spec.ts imports it, and handlers that never
 * parse or print YAML can now drop it.
 */
const SIDE_EFFECT_FREE_PACKAGES = ['yaml'];
const inPackage = (path: string) => SIDE_EFFECT_FREE_PACKAGES.some((p) => path.includes(`/node_modules/${p}/`));
const sideEffectFree: Plugin = {
  name: 'sentinel-side-effect-free',
  setup(b) {
    // Only imports that can land in those packages: the package names, and relative imports from inside them.
    const names = SIDE_EFFECT_FREE_PACKAGES.map((p) => p.replace(/[/.]/g, '\\$&')).join('|');
    b.onResolve({ filter: new RegExp(`^(${names})(/|$)|^\\.\\.?/`) }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      if (args.path.startsWith('.') && !inPackage(args.importer)) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
      if (r.errors.length || r.external || !inPackage(r.path)) return undefined;
      return { path: r.path, sideEffects: false };
    });
  },
};

/**
 * Provided by the nodejs22.x Lambda runtime (see the header): left as imports in the bundle, resolved at run time.
 * @smithy/* too, since the clients and @aws-sdk/core import it and our EKS token signer uses @smithy/signature-v4.
 */
export const SDK_EXTERNALS = ['@aws-sdk/*', '@smithy/*'];

/**
 * Marks the SDK externals side-effect free (the packages say so themselves: "sideEffects": false), so esbuild drops an
 * import of them that no kept code uses, exactly as it dropped the unused modules when they were bundled. Without
 * it every bundle would import every command some adapter names, used or not (and least-privilege reads those).
 */
const sdkExternal: Plugin = {
  name: 'sentinel-sdk-external',
  setup(b) {
    b.onResolve({ filter: /^@(aws-sdk|smithy)\// }, (args) => ({ path: args.path, external: true, sideEffects: false }));
  },
};

export function lambdaBuildOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    minify: true,
    treeShaking: true,
    // Prefer packages' ESM builds: they tree-shake (the SDK's dist-es drops every command a handler never imports).
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_SHIM },
    legalComments: 'none',
    external: SDK_EXTERNALS,
    plugins: [sdkExternal, zodNamespace, sideEffectFree],
    metafile: true,
    logLevel: 'silent',
  };
}

export interface BuiltLambda extends LambdaEntry {
  /** The bundle; deploy it as index.mjs with handler index.handler. */
  outfile: string;
  bytes: number;
  metafile: Metafile;
}

/** Builds one function into <outdir>/<name>/index.mjs. */
export async function buildLambda(e: LambdaEntry, outdir: string): Promise<BuiltLambda> {
  const outfile = join(outdir, e.name, 'index.mjs');
  const res = await build(lambdaBuildOptions(e.entry, outfile));
  const metafile = res.metafile!;
  const out = Object.entries(metafile.outputs).find(([p]) => resolve(p) === resolve(outfile));
  return { ...e, outfile, bytes: out?.[1].bytes ?? 0, metafile };
}

/**
 * The AWS SDK commands a bundle contains (client package → command names), read from esbuild's metafile: the
 * modules that kept bytes in the output, not every module parsed (tree-shaking drops unused commands).
 */
export function bundledSdkCommands(metafile: Metafile): Array<{ client: string; command: string }> {
  const found = new Map<string, { client: string; command: string }>();
  const kept = Object.values(metafile.outputs).flatMap((o) => Object.entries(o.inputs).filter(([, v]) => v.bytesInOutput > 0).map(([p]) => p));
  for (const input of kept) {
    const m = /@aws-sdk\/(client-[a-z0-9-]+)\/dist-[a-z]+\/commands\/([A-Za-z0-9]+)Command\.js$/.exec(input);
    if (m) found.set(`${m[1]}:${m[2]}`, { client: m[1]!, command: m[2]! });
  }
  return [...found.values()];
}

/** Environment the entries read at module init (values are placeholders: init must not call AWS). */
export const PLACEHOLDER_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  SENTINEL_BUCKET: 'sentinel-bench-000000000000-us-east-1',
  SENTINEL_TOKENS_TABLE: 'sentinel-bench-tokens',
  SENTINEL_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:sentinel-bench-pipeline',
  SENTINEL_CLUSTER_NAME: 'ml-cluster',
  SENTINEL_NAMESPACE: 'sentinel',
  SENTINEL_SERVE_IMAGES: '{}',
  SENTINEL_IDLE_TIMEOUT_MINUTES: '15',
  SENTINEL_SCALE_TO_ZERO_NODEGROUPS: '',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

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
  console.log(`Lambda bundles (esbuild: ESM, minified, tree-shaken, node22; AWS SDK bundled). Targets: ≤ ${TARGET_KB} KB, ≤ ${TARGET_INIT_MS} ms init.`);
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  console.log(allOk ? 'all bundles within targets' : 'some bundles miss a target');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
