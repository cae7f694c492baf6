// ABANDONED: a run recorded RUNNING whose command died (SIGKILL, a closed terminal) can never finish, and no one
// would say so. The next command on the home applies this rule and records the end: who found it, when, and why.
import type { RunRecord } from './model.js';

/** The home's session, as the next command sees it (local: <home>/session.json and whether its pid lives). */
export interface SessionSeen {
  pid: number;
  alive: boolean;
  startedAt: string;
  runs: string[];
}

export interface Abandoned {
  record: RunRecord;
  reason: string;
}

/**
 * The RUNNING runs no live session owns. A live session owns the runs it lists and any that started while it was up
 * (an upload it delivered; or a run whose start it has not listed yet), so a command never marks a run still going.
 */
export function findAbandoned(records: RunRecord[], session: SessionSeen | undefined): Abandoned[] {
  const out: Abandoned[] = [];
  for (const record of records) {
    if (record.status !== 'RUNNING') continue;
    if (session?.alive) {
      const started = Date.parse(record.startedAt);
      if (session.runs.includes(record.runId) || !(started < Date.parse(session.startedAt))) continue;
      out.push({ record, reason: `it started before the live session (pid ${session.pid}) and no session runs it any more` });
    } else if (session && session.runs.includes(record.runId)) {
      out.push({ record, reason: `CLI process ${session.pid} exited without finishing` });
    } else {
      out.push({ record, reason: 'no live `sentinel` session runs it (the command that started it exited before it ended)' });
    }
  }
  return out;
}

/** The record of an abandoned (or cancelled) run: its status, its end, and the stage it was at. */
export function endedRecord(record: RunRecord, status: 'ABANDONED' | 'CANCELLED', ended: { by: string; at: string; reason: string }, stage?: string): RunRecord {
  return {
    ...record,
    status,
    endedAt: ended.at,
    ended,
    outcome: { error: status === 'CANCELLED' ? 'RunCancelled' : 'RunAbandoned', cause: ended.reason, ...(stage ? { stage } : {}) },
  };
}
