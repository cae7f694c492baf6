// Requests to a live session from another command on the same home: <home>/control/cancel-<runId>.json (0600), which
// the session polls for. Data in a file, never a shell string; the session removes a request it has acted on.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_ID_PATTERN } from '../core/run-id.js';

export interface CancelRequest {
  runId: string;
  /** Who asked: the command, its pid and user. */
  by: string;
  at: string;
}

export const controlDir = (home: string) => join(home, 'control');
const fileFor = (home: string, runId: string) => join(controlDir(home), `cancel-${runId}.json`);

export function requestCancel(home: string, req: CancelRequest): string {
  if (!RUN_ID_PATTERN.test(req.runId)) throw new Error(`not a run id: ${req.runId}`);
  mkdirSync(controlDir(home), { recursive: true, mode: 0o700 });
  const path = fileFor(home, req.runId);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(req)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
  return path;
}

/** The cancel requests waiting in the home (malformed files are skipped). */
export function pendingCancels(home: string): CancelRequest[] {
  let names: string[];
  try {
    names = readdirSync(controlDir(home));
  } catch {
    return [];
  }
  const out: CancelRequest[] = [];
  for (const n of names) {
    const m = /^cancel-(r[0-9a-f]{9})\.json$/.exec(n);
    if (!m) continue;
    try {
      const r = JSON.parse(readFileSync(join(controlDir(home), n), 'utf8')) as Partial<CancelRequest>;
      if (r.runId === m[1] && typeof r.by === 'string' && typeof r.at === 'string') out.push(r as CancelRequest);
    } catch {
      /* half-written or not ours */
    }
  }
  return out;
}

export function clearCancel(home: string, runId: string) {
  rmSync(fileFor(home, runId), { force: true });
}
