// Ending a run's compute (ComputePort.endRun) from the two places a run ends: finish-run (success or failure) and
// execution-ended (ABORTED, TIMED_OUT, FAILED). Never throws: how the run ended is recorded either way, and a run
// cluster left behind by an error is idle, so the reaper deletes it.
import type { ComputePort, RunEnded } from './ports.js';

export type RunComputeEnded = RunEnded | { deleted: []; error: string };

/** ComputePort.endRun, never throwing: what was released, or the error (named) that left it to the reaper. */
export async function endRunCompute(compute: ComputePort, run: { pipeline: string; runId: string }): Promise<RunComputeEnded> {
  if (!compute.endRun) return { deleted: [], note: 'this compute port has nothing per run' };
  try {
    return await compute.endRun({ pipeline: run.pipeline, runId: run.runId });
  } catch (e) {
    return { deleted: [], error: `${(e as Error).name}: ${(e as Error).message}`.slice(0, 500) };
  }
}
