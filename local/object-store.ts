// The object store on one machine: a folder stands in for the S3 bucket. URIs are absolute paths.
// Writes are atomic (temp file + rename), like a single S3 PUT, so readers never see half a result.
import { mkdir, readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ObjectInfo, ObjectStore } from '../core/ports.js';

function pathOf(uri: string): string {
  const p = uri.startsWith('file://') ? new URL(uri).pathname : uri;
  if (!isAbsolute(p)) throw new Error(`local object store needs absolute paths, got ${uri}`);
  return p;
}

export const isMissing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

export async function writeAtomic(path: string, data: string | Uint8Array, mode = 0o644) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

export class LocalObjectStore implements ObjectStore {
  async getJson<T>(uri: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(pathOf(uri), 'utf8')) as T;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async getText(uri: string): Promise<string | undefined> {
    try {
      return await readFile(pathOf(uri), 'utf8');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async putJson(uri: string, value: unknown) {
    await writeAtomic(pathOf(uri), `${JSON.stringify(value, null, 2)}\n`);
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(pathOf(uri));
      // Size + mtime stand in for S3's ETag: opaque, and it changes when the object is replaced.
      return s.isFile() ? { uri, size: s.size, etag: `${s.size}-${Math.floor(s.mtimeMs)}`, lastModified: s.mtimeMs } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const dir = pathOf(prefixUri);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
    const infos = await Promise.all(names.filter((n) => !n.endsWith('.tmp')).map((n) => this.head(join(dir, n))));
    return infos.filter((i): i is ObjectInfo => !!i);
  }
}
