// ObjectStore over S3: s3://bucket/key URIs, JSON and text objects, head and list. A missing key reads as
// undefined; anything else (403, throttling after the SDK's own retries) is an error, so a permission problem is
// never mistaken for "no champion yet". Note S3 answers 403 instead of 404 for a missing key unless the caller
// may s3:ListBucket: infra/iam.ts grants it to every function that reads (see the "why" there).
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectInfo, ObjectStore, Versioned, WriteCondition } from '../../core/ports.js';
import { checkObjectKey } from '../../core/object-key.js';
import { quoted } from '../../core/errors.js';

export interface S3Location {
  bucket: string;
  key: string;
}

/** s3://bucket/key → { bucket, key }. The key may be empty (a bucket root, for list). */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([\s\S]*))?$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: ${quoted(uri)}`);
  // The same key rules as the local store (core/object-key.ts): no '..', '.', '//', NUL, absolute keys.
  return { bucket: m[1]!, key: checkObjectKey(m[2] ?? '', 'uri') };
}

export const s3Uri = (bucket: string, key: string) => `s3://${bucket}/${key}`;

const isMissing = (e: unknown) => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
};

/** S3 returns ETags quoted; the port's etag is opaque, so strip the quotes once here. */
const unquote = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '');

/** CopyObject's CopySource: bucket/key with the key URL-encoded segment by segment (the slashes stay). */
export const copySource = (bucket: string, key: string) => `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    /** How many CopyObject calls copyPrefix makes at once. */
    private readonly copyConcurrency = 8,
  ) {}

  async getText(uri: string): Promise<string | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await res.Body?.transformToString('utf-8')) ?? '';
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async getJson<T>(uri: string): Promise<T | undefined> {
    const text = await this.getText(uri);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new Error(`${uri} is not valid JSON: ${(e as Error).message}`);
    }
  }

  async putJson(uri: string, value: unknown): Promise<void> {
    const { bucket, key } = parseS3Uri(uri);
    await this.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: `${JSON.stringify(value, null, 2)}\n`, ContentType: 'application/json' }),
    );
  }

  async getJsonVersioned<T>(uri: string): Promise<Versioned<T> | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    let text: string;
    let version: string;
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = (await res.Body?.transformToString('utf-8')) ?? '';
      version = res.ETag ?? '';
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    try {
      return { value: JSON.parse(text) as T, version };
    } catch (e) {
      throw new Error(`${uri} is not valid JSON: ${(e as Error).message}`);
    }
  }

  /** S3 conditional writes: If-Match on the ETag read, or If-None-Match: * to create; 412 (and 409, a concurrent conditional write) is a conflict. */
  async putJsonIf(uri: string, value: unknown, cond: WriteCondition): Promise<'ok' | 'conflict'> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: `${JSON.stringify(value, null, 2)}\n`,
          ContentType: 'application/json',
          ...('ifMatch' in cond ? { IfMatch: cond.ifMatch } : { IfNoneMatch: '*' }),
        }),
      );
      return 'ok';
    } catch (e) {
      const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
      const status = err.$metadata?.httpStatusCode;
      if (err.name === 'PreconditionFailed' || status === 412 || err.name === 'ConditionalRequestConflict' || status === 409) return 'conflict';
      // If-Match on a key that is gone: S3 answers 404 NoSuchKey.
      if ('ifMatch' in cond && isMissing(e)) return 'conflict';
      throw e;
    }
  }

  async head(uri: string): Promise<ObjectInfo | undefined> {
    const { bucket, key } = parseS3Uri(uri);
    try {
      const res = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { uri, size: res.ContentLength ?? 0, etag: unquote(res.ETag), lastModified: res.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /** Objects directly under the prefix (a "folder"), following continuation tokens. */
  async list(prefixUri: string): Promise<ObjectInfo[]> {
    const { bucket, key } = parseS3Uri(prefixUri);
    const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const res = await this.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }));
      for (const o of res.Contents ?? []) {
        if (!o.Key || o.Key === prefix) continue; // the folder marker itself
        out.push({ uri: s3Uri(bucket, o.Key), size: o.Size ?? 0, etag: unquote(o.ETag), lastModified: o.LastModified?.getTime() ?? 0 });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /**
   * Every object under one prefix (a "folder", recursively) copied under another, keeping the rest of each key: a
   * resumed run's checkpoints (core/submit-stage.ts). Server-side CopyObject, so nothing passes through the caller;
   * the caller needs s3:GetObject on the source keys and s3:PutObject on the destination ones. Idempotent (a copy
   * again overwrites with the same bytes); 0 when nothing is under the prefix. CopyObject takes objects up to 5 GB.
   */
  async copyPrefix(fromUri: string, toUri: string): Promise<number> {
    const from = parseS3Uri(fromUri);
    const to = parseS3Uri(toUri);
    const folder = (k: string) => (k === '' || k.endsWith('/') ? k : `${k}/`);
    const fromPrefix = folder(from.key);
    const toPrefix = folder(to.key);
    if (from.bucket === to.bucket && (toPrefix.startsWith(fromPrefix) || fromPrefix.startsWith(toPrefix))) {
      throw new Error(`copyPrefix: ${quoted(fromUri)} and ${quoted(toUri)} overlap`);
    }
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const res = await this.s3.send(new ListObjectsV2Command({ Bucket: from.bucket, Prefix: fromPrefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) if (o.Key && o.Key !== fromPrefix && !o.Key.endsWith('/')) keys.push(o.Key);
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.copyConcurrency, keys.length) }, async () => {
        while (next < keys.length) {
          const key = keys[next++]!;
          const target = checkObjectKey(toPrefix + key.slice(fromPrefix.length), 'uri');
          await this.s3.send(new CopyObjectCommand({ Bucket: to.bucket, Key: target, CopySource: copySource(from.bucket, key) }));
        }
      }),
    );
    return keys.length;
  }
}
