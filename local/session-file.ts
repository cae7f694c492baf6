// The live session's file, <home>/session.json (mode 0600): what another command (`sentinel status`) needs to reach
// the session a `sentinel run` keeps open — the Ray head's dashboard (and its token, which stays in this file and is
// never printed), Serve's HTTP port, the MLflow server, the pid that keeps it all up, and the runs it started.
// Written when the session opens, removed when it closes; a file whose pid is dead (a killed command) is stale and
// ignored.
import { chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const SESSION_FILE = 'session.json';

export interface SessionFile {
  /** Tells this session's file from a later one's (only the writer removes it). */
  id: string;
  pid: number;
  startedAt: string;
  dashboardUrl: string;
  /** Ray's auth token for the dashboard. Secret: never printed, never in --json output. */
  dashboardToken?: string;
  servePort: number;
  mlflowUri?: string;
  runs: string[];
}

export const sessionFilePath = (home: string) => join(home, SESSION_FILE);

function write(home: string, s: SessionFile) {
  const path = sessionFilePath(home);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function writeSessionFile(home: string, s: Omit<SessionFile, 'id' | 'runs' | 'startedAt' | 'pid'> & { pid?: number }): SessionFile {
  const file: SessionFile = { id: randomBytes(8).toString('hex'), pid: s.pid ?? process.pid, startedAt: new Date().toISOString(), runs: [], ...s } as SessionFile;
  write(home, file);
  return file;
}

export function readSessionFile(home: string): SessionFile | undefined {
  try {
    const s = JSON.parse(readFileSync(sessionFilePath(home), 'utf8')) as SessionFile;
    return typeof s.pid === 'number' && typeof s.dashboardUrl === 'string' ? { ...s, runs: Array.isArray(s.runs) ? s.runs : [] } : undefined;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The live session's file; undefined when there is none or its process is gone. */
export function liveSessionFile(home: string): SessionFile | undefined {
  const s = readSessionFile(home);
  return s && pidAlive(s.pid) ? s : undefined;
}

/** Records a run the session started (only in this session's own file). */
export function addSessionRun(home: string, id: string, runId: string) {
  const s = readSessionFile(home);
  if (!s || s.id !== id || s.runs.includes(runId)) return;
  write(home, { ...s, runs: [...s.runs, runId] });
}

/** Removes the file if it is still this session's. */
export function removeSessionFile(home: string, id: string) {
  const s = readSessionFile(home);
  if (s && s.id !== id && pidAlive(s.pid)) return;
  rmSync(sessionFilePath(home), { force: true });
}
