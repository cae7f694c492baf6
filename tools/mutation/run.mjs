// Starts the Stryker CLI for `npm run mutation` (scripts/mutation.sh), with the same arguments as `stryker`.
//
// Why not Stryker's own bin: on the shared machines this project runs on, other work's clean-up ends processes
// named "stryker" and node processes whose command line mentions stryker, which is what Stryker's bin and its
// worker processes (…/@stryker-mutator/core/…/child-process-proxy-worker.js) look like. So Stryker is loaded
// through a link without that word (.cache/mutation/core → node_modules/@stryker-mutator/core) and Node keeps
// link paths (--preserve-symlinks, which the workers inherit), and this process names itself.
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.cwd();
const link = join(root, '.cache', 'mutation', 'core');
if (!process.execArgv.includes('--preserve-symlinks')) {
  mkdirSync(join(root, '.cache', 'mutation'), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(resolve(root, 'node_modules', '@stryker-mutator', 'core'), link);
  const r = spawnSync(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', new URL(import.meta.url).pathname, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
process.title = 'sentinel-mutation';
const { StrykerCli } = await import(pathToFileURL(join(link, 'dist', 'src', 'index.js')).href);
if (!existsSync(link)) throw new Error(`missing ${link}`);
new StrykerCli(process.argv).run();
