// EventBridge content filtering, implemented for the local bus and for tests of the patterns themselves.
// Covers the documented matchers: exact values, prefix, suffix, equals-ignore-case, wildcard, anything-but (value,
// list, prefix, suffix), numeric ranges, exists, and $or. An array in the event matches if any element matches.
import type { EventPattern } from './patterns.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(value);
}

function numeric(ops: unknown[], v: unknown): boolean {
  if (typeof v !== 'number') return false;
  for (let i = 0; i + 1 < ops.length; i += 2) {
    const op = ops[i];
    const n = ops[i + 1] as number;
    const ok = op === '<' ? v < n : op === '<=' ? v <= n : op === '=' ? v === n : op === '>' ? v > n : op === '>=' ? v >= n : false;
    if (!ok) return false;
  }
  return true;
}

/** Does one matcher (an element of a pattern array) match one scalar value? */
function matchOne(m: unknown, v: Json | undefined): boolean {
  if (!isObj(m)) return v !== undefined && m === v;
  if ('exists' in m) return m.exists ? v !== undefined : v === undefined;
  if (v === undefined) return false;
  if ('prefix' in m) {
    const p = m.prefix;
    if (isObj(p)) return typeof v === 'string' && v.toLowerCase().startsWith(String(p['equals-ignore-case']).toLowerCase());
    return typeof v === 'string' && v.startsWith(String(p));
  }
  if ('suffix' in m) {
    const s = m.suffix;
    if (isObj(s)) return typeof v === 'string' && v.toLowerCase().endsWith(String(s['equals-ignore-case']).toLowerCase());
    return typeof v === 'string' && v.endsWith(String(s));
  }
  if ('equals-ignore-case' in m) return typeof v === 'string' && v.toLowerCase() === String(m['equals-ignore-case']).toLowerCase();
  if ('wildcard' in m) return typeof v === 'string' && wildcard(String(m.wildcard), v);
  if ('numeric' in m) return numeric(m.numeric as unknown[], v);
  if ('anything-but' in m) {
    const ab = m['anything-but'];
    if (Array.isArray(ab)) return !ab.includes(v);
    if (isObj(ab)) return !matchOne(ab, v);
    return v !== ab;
  }
  throw new Error(`unsupported matcher ${JSON.stringify(m)}`);
}

function matchField(matchers: readonly unknown[], value: Json | undefined): boolean {
  const values = Array.isArray(value) ? (value.length ? value : [undefined]) : [value];
  return matchers.some((m) => values.some((v) => matchOne(m, v as Json | undefined)));
}

export function matches(pattern: EventPattern, event: unknown): boolean {
  const e = isObj(event) ? event : {};
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!(sub as readonly EventPattern[]).some((alt) => matches(alt, e))) return false;
      continue;
    }
    const value = e[key] as Json | undefined;
    if (Array.isArray(sub)) {
      if (!matchField(sub, value)) return false;
    } else if (!matches(sub as EventPattern, isObj(value) ? value : {})) {
      return false;
    }
  }
  return true;
}
