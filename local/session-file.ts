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

/**
 * One session per home: <home>/session.lock, created with O_EXCL by the command that opens a session and removed when
 * it closes. A second `sentinel run` on the same home never starts a second Ray head beside the first (the second
 * head's champion restore and the first's stale-head cleanup would fight over one bucket and one route): it waits for
 * the first (`--wait`), or stops with HomeBusy naming the process and the runs that hold the home. A lock whose
 * process is gone (a killed command) is taken over.
 */
export const SESSION_LOCK = 'session.lock';
export interface SessionLock {
  pid: number;
  command: string;
  startedAt: string;
}

/** The exit code of a command refused because another session holds the home (EX_TEMPFAIL: try again later). */
export const HOME_BUSY_EXIT = 75;

export class HomeBusyError extends Error {
  override readonly name = 'HomeBusy';
  constructor(
    readonly holder: SessionLock,
    /** The runs the holding session started (from its session.json), newest last. */
    readonly runs: string[],
  ) {
    super(`another session holds this home: ${holder.command} (pid ${holder.pid}, since ${holder.startedAt})${runs.length ? `, running ${runs.join(', ')}` : ''}`);
  }
}

const lockPath = (home: string) => join(home, SESSION_LOCK);

/** The live holder of the home's lock, if any (a lock of a dead process counts as none). */
export function homeHolder(home: string): SessionLock | undefined {
  try {
    const l = JSON.parse(readFileSync(lockPath(home), 'utf8')) as SessionLock;
    return pidAlive(l.pid) ? l : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the home's lock, or throws HomeBusyError when a live session holds it. */
export function lockHome(home: string, command: string): SessionLock {
  const mine: SessionLock = { pid: process.pid, command, startedAt: new Date().toISOString() };
  for (let i = 0; i < 5; i++) {
    try {
      writeFileSync(lockPath(home), `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o600 });
      return mine;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let text = '';
    try {
      text = readFileSync(lockPath(home), 'utf8');
    } catch {
      continue; // released meanwhile
    }
    let held: SessionLock | undefined;
    try {
      held = JSON.parse(text) as SessionLock;
    } catch {
      held = undefined; // half-written by a process that died mid-write: stale
    }
    if (held && held.pid !== process.pid && pidAlive(held.pid)) {
      const live = liveSessionFile(home);
      throw new HomeBusyError(held, live && live.pid === held.pid ? live.runs : []);
    }
    // Stale: moved aside atomically (a concurrent taker gets ENOENT and retries), then removed.
    const aside = `${lockPath(home)}.${randomBytes(4).toString('hex')}.stale`;
    try {
      renameSync(lockPath(home), aside);
      rmSync(aside, { force: true });
    } catch {
      /* another process took it over first */
    }
  }
  throw new Error(`could not take ${lockPath(home)}`);
}

/** Releases the home's lock if this process holds it. */
export function unlockHome(home: string) {
  try {
    const l = JSON.parse(readFileSync(lockPath(home), 'utf8')) as SessionLock;
    if (l.pid === process.pid) rmSync(lockPath(home), { force: true });
  } catch {
    /* not held */
  }
}

/** Waits (polling) until the home's lock can be taken; `onWait` is told once who holds it. */
export async function lockHomeWaiting(home: string, command: string, onWait: (e: HomeBusyError) => void, pollMs = 1000): Promise<SessionLock> {
  let told = false;
  for (;;) {
    try {
      return lockHome(home, command);
    } catch (e) {
      if (!(e instanceof HomeBusyError)) throw e;
      if (!told) onWait(e);
      told = true;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
}
