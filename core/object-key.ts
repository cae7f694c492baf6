// Object keys stay inside their bucket, on both backends. One rule set, used by the S3 adapter (on the key of an
// s3:// URI) and by the local store (on every path, whose folder stands in for the bucket): a key that is absolute,
// has `.` or `..` segments, empty segments, NUL or other control characters, or is longer than S3 allows, is refused
// with ValidationFailed before anything is read or written. S3 itself would store `a/../b` as a literal key, but the
// local store, fsspec and pyarrow (which the jobs read through) resolve it, so it is refused everywhere alike.
import { quoted, validationFailed } from './errors.js';

/** S3's limit on a key: 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/** Why `key` may not name an object in a bucket, or undefined when it may. A trailing '/' (a prefix) is allowed. */
export function keyProblem(key: string): string | undefined {
  if (key.startsWith('/')) return 'is absolute (starts with "/")';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a NUL or another control character';
  if (key.includes('\\')) return 'contains a backslash';
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (key === '') return undefined;
  const segments = (key.endsWith('/') ? key.slice(0, -1) : key).split('/');
  for (const s of segments) {
    if (s === '..') return 'has a ".." segment (it would leave its folder)';
    if (s === '.') return 'has a "." segment';
    if (s === '') return 'has an empty segment ("//")';
  }
  return undefined;
}

/** Throws ValidationFailed (`where`: the field, else the key itself, capped) when `key` may not name an object. */
export function checkObjectKey(key: string, where = 'key'): string {
  const problem = keyProblem(key);
  if (problem) throw validationFailed(`object key ${quoted(key)} ${problem}`, where);
  return key;
}
