// Task tokens parked between submit and completion, one file per job (mode 0600: a token can complete a task).
// In AWS this is a DynamoDB table; the contract is the same TokenStore port.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenStore } from '../core/ports.js';
import { isMissing, writeAtomic } from './object-store.js';

export class FileTokenStore implements TokenStore {
  constructor(private readonly dir: string) {}
  private file(jobId: string) {
    if (!/^[a-z0-9-]+$/.test(jobId)) throw new Error(`bad job id ${jobId}`);
    return join(this.dir, `${jobId}.token`);
  }
  async put(jobId: string, token: string) {
    await writeAtomic(this.file(jobId), token, 0o600);
  }
  async get(jobId: string) {
    try {
      return await readFile(this.file(jobId), 'utf8');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }
  async delete(jobId: string) {
    await rm(this.file(jobId), { force: true });
  }
}
