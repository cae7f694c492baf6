// The object store on one machine: a folder stands in for the S3 bucket. URIs are absolute paths.
// Writes are atomic (temp file + rename), like a single S3 PUT, so readers never see half a result.
// Keys are confined (core/object-key.ts): a path with '..' or '.' segments, NUL or '//' is refused before any read,
// so `<bucket>/datasets/x/../../../../etc/passwd.csv` never reaches /etc. Conditional writes (putJsonIf) hold across
// processes: the compare and the rename happen under `<object>.lock`, created with O_EXCL; the version is the
// SHA-256 of the object's bytes.
import { cp, link, mkdir, open, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ObjectInfo, ObjectStore, Versioned, WriteCondition } from '../core/ports.js';
import { checkObjectKey } from '../core/object-key.js';
import { quoted } from '../core/errors.js';

function pathOf(uri: string): string {
  const p = uri.startsWith('file://') ? decodeURIComponent(new URL(uri).pathname) : uri;
  if (!isAbsolute(p)) throw new Error(`local object store needs absolute paths, got ${quoted(uri)}`);
  // The whole path is a key under '/': the same rules as an S3 key, so nothing resolves outside the folder named.
  checkObjectKey(p.slice(1), 'uri');
  const resolved = resolve(p);
  if (resolved !== p.replace(/\/+$/, '') && resolved !== p) throw new Error(`${quoted(uri)} does not resolve to itself (${quoted(resolved)})`);
  return p;
}

/** The version putJsonIf compares: the SHA-256 of the bytes. */
const versionOf = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Runs `fn` holding `<path>.lock` (O_EXCL create; the holder's pid inside). A lock whose process is gone is taken
 * over; waits at most `timeoutMs` for a live holder. Promotion holds it for milliseconds (one compare, one rename).
 */
async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  const me = `${process.pid} ${randomBytes(6).toString('hex')}`;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    try {
      const fh = await open(lock, 'wx', 0o600);
      await fh.writeFile(me);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readFile(lock, 'utf8').catch(() => '');
    const pid = Number(holder.split(' ')[0]);
    if (holder && Number.isInteger(pid) && pid > 0 && !alive(pid)) {
      // Take over a dead holder's lock: move it aside atomically, and put it back if it was not the one judged dead.
      const aside = `${lock}.${randomBytes(4).toString('hex')}.stale`;
      if (await rename(lock, aside).then(() => true, () => false)) {
        if ((await readFile(aside, 'utf8').catch(() => '')) !== holder) await link(aside, lock).catch(() => undefined);
        await unlink(aside).catch(() => undefined);
      }
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${quoted(lock)} is held by ${quoted(holder)} for more than ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
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

  async getJsonVersioned<T>(uri: string): Promise<Versioned<T> | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(pathOf(uri));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    return { value: JSON.parse(bytes.toString('utf8')) as T, version: versionOf(bytes) };
  }

  async putJsonIf(uri: string, value: unknown, cond: WriteCondition): Promise<'ok' | 'conflict'> {
    const path = pathOf(uri);
    const body = `${JSON.stringify(value, null, 2)}\n`;
    return withLock(path, async () => {
      const now = await readFile(path).catch((e: unknown) => {
        if (isMissing(e)) return undefined;
        throw e;
      });
      const holds = 'ifMatch' in cond ? now !== undefined && versionOf(now) === cond.ifMatch : now === undefined;
      if (!holds) return 'conflict';
      await writeAtomic(path, body);
      return 'ok';
    });
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
    const infos = await Promise.all(names.filter((n) => !n.endsWith('.tmp') && !n.endsWith('.lock') && !n.endsWith('.stale')).map((n) => this.head(join(dir, n))));
    return infos.filter((i): i is ObjectInfo => !!i);
  }

  /** A folder copy (a resumed run's checkpoints); 0 when there is nothing under the prefix. */
  async copyPrefix(fromUri: string, toUri: string): Promise<number> {
    const from = pathOf(fromUri);
    let count = 0;
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(d, e.name));
        else count++;
      }
    };
    try {
      await walk(from);
    } catch (e) {
      if (isMissing(e)) return 0;
      throw e;
    }
    await cp(from, pathOf(toUri), { recursive: true, errorOnExist: false, force: true });
    return count;
  }
}
