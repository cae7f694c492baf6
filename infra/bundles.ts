// Lambda bundles: one esbuild build per entry in functions/aws/ (ESM, minified, tree-shaken, node22). This module is
// the one definition of the production build options: infra/functions.ts deploys these bundles, bench/bundles.ts
// measures exactly them, and test/infra checks each bundle's IAM against what it can call.
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
// To pin the SDK again (e.g. to get a fix before the runtime does), drop `external` and the sdkExternal plugin from the options: the bundle
// then carries the pinned clients and grows past the size target. The SDK is loaded with require, not an ESM import
// (requireSdk: Node's CJS-from-ESM path cost ~1.6× the load time here), and least-privilege reads the commands a
// bundle can send from those requires (bundledSdkCommands).
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const LAMBDA_ENTRY_DIR = 'functions/aws';
/** Not a handler: the shared dependency wiring of the entries. */
const NOT_ENTRIES = new Set(['deps.ts', 'cluster-deps.ts']);


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
const rewriteZod = (src: string) => src.replace(/^import \{ z \} from 'zod';$/m, `import * as z from '${ZOD_CLASSIC}';`);

/**
 * One import statement per SDK name: `import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'`
 * becomes two statements (type-only names dropped). The SDK is external (SDK_EXTERNALS) and marked side-effect free,
 * so esbuild drops each statement whose name no kept code uses; it keeps or drops a statement whole, and the
 * project's `verbatimModuleSyntax` keeps every name a statement lists. Split, the bundle imports exactly the
 * commands its code can reach, as precisely as tree-shaking used to keep the bundled command modules, and
 * sdkCommands reads them from the output.
 */
const SDK_NAMED_IMPORT = /^import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+|@smithy\/[^']+)';?/gm;
const splitSdkImports = (src: string) =>
  src.replace(SDK_NAMED_IMPORT, (_all, names: string, from: string) =>
    names
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n && !n.startsWith('type '))
      .map((n) => `import { ${n} } from '${from}';`)
      .join(' '),
  );

/** The project's own TypeScript, rewritten as above before esbuild parses it (packages are left alone). */
const sourceRewrites: Plugin = {
  name: 'sentinel-source-rewrites',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const src = readFileSync(args.path, 'utf8');
      const out = splitSdkImports(rewriteZod(src));
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
 * The X-Ray SDK (under Powertools Tracer) pulls in all of semver twice (~28 KB minified: v7 for aws-xray-sdk-core,
 * v5 for cls-hooked) for one call each, `semver.gte(version, minimum)`. Their `require('semver')` gets a module
 * with that one function, semver's own `functions/gte` (v7); any other use would be undefined, so the module throws
 * on it instead (test/infra imports the bundles, which runs cls-hooked's check at init).
 */
const SEMVER_GTE_USERS = ['/node_modules/aws-xray-sdk-core/', '/node_modules/cls-hooked/'];
const semverGteOnly: Plugin = {
  name: 'sentinel-semver-gte-only',
  setup(b) {
    b.onResolve({ filter: /^semver$/ }, (args) => (SEMVER_GTE_USERS.some((p) => args.importer.includes(p)) ? { path: 'semver-gte', namespace: 'sentinel-semver', pluginData: args.resolveDir } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'sentinel-semver' }, async (args) => {
      const gte = await b.resolve('semver/functions/gte', { kind: 'require-call', resolveDir: args.pluginData as string });
      if (gte.errors.length) return { errors: gte.errors };
      const contents = `const gte = require(${JSON.stringify(gte.path)});
module.exports = new Proxy({ gte }, { get(t, k) { if (k in t || typeof k === 'symbol' || k === '__esModule') return t[k]; throw new Error('semver.' + String(k) + ' is not bundled (bench/bundles.ts: semverGteOnly)'); } });`;
      return { contents, loader: 'js', resolveDir: dirname(gte.path) };
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
    // Prefer packages' ESM builds: they tree-shake.
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_SHIM },
    legalComments: 'none',
    external: SDK_EXTERNALS, // resolved by sdkExternal first (side-effect free); listed here for readers and tools
    plugins: [sdkExternal, sourceRewrites, sideEffectFree, semverGteOnly],
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

/**
 * The SDK is CommonJS (its packages' "main" is dist-cjs; the runtime's copy too). An ESM `import` of it makes Node
 * run its CJS export scanner over each client's large index and wrap it as an ES module: measured here, ~1.6× the
 * load time of `require`-ing the same packages. So the bundle's SDK imports (all at module top level, evaluated before
 * the body either way) become requires at the top of the bundle, through the banner's `require`, each checking the
 * names exist so a runtime SDK without one fails at init as the ESM import would. Nothing else is rewritten.
 */
const SDK_IMPORT = /import\s*\{([^}]*)\}\s*from\s*"((?:@aws-sdk|@smithy)\/[^"]+)";?/g;
const SDK_REQUIRE_HELPER = 'const __sentinelSdk=(p,n)=>{const m=require(p);for(const k of n)if(!(k in m))throw new Error(`${p} has no export ${k}`);return m};';
function requireSdk(code: string, outfile: string): string {
  const requires: string[] = [];
  const body = code.replace(SDK_IMPORT, (_all, specs: string, from: string) => {
    const pairs = specs.split(',').map((x) => x.trim()).filter(Boolean).map((x) => x.split(/\s+as\s+/) as [string, string?]);
    requires.push(`const{${pairs.map(([n, a]) => (a ? `${n}:${a}` : n)).join(',')}}=__sentinelSdk(${JSON.stringify(from)},${JSON.stringify(pairs.map(([n]) => n))});`);
    return '';
  });
  const left = /(?:from|import)\s*\(?\s*"(?:@aws-sdk|@smithy)\/[^"]*"/.exec(body);
  if (left) throw new Error(`${outfile}: an SDK import other than a named one (${left[0]})`);
  if (!requires.length) return code;
  if (!body.startsWith(REQUIRE_SHIM)) throw new Error(`${outfile}: the bundle does not start with the require banner`);
  return REQUIRE_SHIM + SDK_REQUIRE_HELPER + requires.join('') + body.slice(REQUIRE_SHIM.length);
}

/** Builds one function into <outdir>/<name>/index.mjs. */
export async function buildLambda(e: LambdaEntry, outdir: string): Promise<BuiltLambda> {
  const outfile = join(outdir, e.name, 'index.mjs');
  const res = await build({ ...lambdaBuildOptions(e.entry, outfile), write: false });
  const metafile = res.metafile!;
  const file = res.outputFiles!.find((f) => resolve(f.path) === resolve(outfile));
  if (!file) throw new Error(`esbuild wrote no ${outfile}`);
  const code = requireSdk(file.text, outfile);
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, code);
  return { ...e, outfile, bytes: Buffer.byteLength(code), metafile };
}

/**
 * The AWS SDK commands a bundle can send (client package → command names). The SDK is external, so they are the
 * names the bundle takes from @aws-sdk/client-* (esbuild's imports, as requireSdk turned them into requires):
 * esbuild keeps an import only if kept code uses it (see splitSdkImports), so this is the set tree-shaking left, as
 * when the metafile listed the bundled command modules.
 * Any other way of reaching a client package (namespace, default or dynamic import, require) would hide commands,
 * so it is an error, as is a client import in the metafile that the scan did not read.
 */
export function bundledSdkCommands(b: Pick<BuiltLambda, 'outfile' | 'metafile'>): Array<{ client: string; command: string }> {
  const code = readFileSync(b.outfile, 'utf8');
  const found = new Map<string, { client: string; command: string }>();
  const read = new Set<string>();
  const named = /const\{([^}]*)\}=__sentinelSdk\("(@aws-sdk\/(client-[a-z0-9-]+))",\[[^\]]*\]\);/g;
  for (const m of code.matchAll(named)) {
    read.add(m[2]!);
    for (const spec of m[1]!.split(',')) {
      const name = spec.trim().split(':')[0]!;
      const cmd = /^([A-Za-z0-9]+)Command$/.exec(name);
      if (cmd) found.set(`${m[3]}:${cmd[1]}`, { client: m[3]!, command: cmd[1]! });
    }
  }
  const rest = code.replace(named, '');
  const other = /["']@aws-sdk\/client-[a-z0-9-]+(\/[^"']*)?["']/.exec(rest);
  if (other) throw new Error(`${b.outfile}: reaches ${other[0]} other than by a named import (rewritten by requireSdk); its SDK commands cannot be read`);
  for (const out of Object.values(b.metafile.outputs)) {
    for (const i of out.imports) {
      if (i.external && i.path.startsWith('@aws-sdk/client-') && !read.has(i.path)) throw new Error(`${b.outfile}: imports ${i.path} (${i.kind}), which the scan did not read`);
    }
  }
  return [...found.values()];
}

/**
 * The bundles import the SDK (SDK_EXTERNALS); in Lambda it resolves from the runtime's node_modules. Elsewhere (tests,
 * this benchmark) a bundle written outside the project links <outdir>/node_modules to the project's, which stands in
 * for the runtime's: Node's ESM resolver walks up from the bundle to it (it ignores NODE_PATH). The link is the
 * standard way; nothing else is copied.
 */
export function provideSdk(outdir: string, root: string): void {
  const link = join(outdir, 'node_modules');
  if (existsSync(link)) return;
  mkdirSync(outdir, { recursive: true });
  symlinkSync(join(root, 'node_modules'), link, 'dir');
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
  SENTINEL_ALLOWED_IMAGE_PREFIXES: '000000000000.dkr.ecr.us-east-1.amazonaws.com/',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};
