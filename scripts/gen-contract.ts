// `npm run contract`: writes the stage contract's JSON Schema files and the task vocabulary into the sentinel_sdk
// package (jobs/src/sentinel_sdk/contract/), from core/contract.ts and core/tasks.ts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONTRACT_DIR, contractFiles } from '../core/contract-files.js';

const dir = join(resolve(import.meta.dirname, '..'), CONTRACT_DIR);
mkdirSync(dir, { recursive: true });
for (const [name, text] of Object.entries(contractFiles())) {
  const path = join(dir, name);
  let before: string | undefined;
  try {
    before = readFileSync(path, 'utf8');
  } catch {
    /* new file */
  }
  if (before !== text) writeFileSync(path, text);
  process.stdout.write(`${before === text ? 'unchanged' : 'wrote    '} ${join(CONTRACT_DIR, name)}\n`);
}
