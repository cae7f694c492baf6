// One in-process handler call in its own process, for the SIGKILL rows of the fault table (test/support/sigkill-faults.ts):
// submit-stage, finish-run or promote, built through its real factory over the local folder store, the file token
// store, a compute port whose jobs are files (created exclusively, so a second submit of one job id finds the first,
// as the API server's AlreadyExists does) and serving in a file (as test/support/promote-worker.ts's FileServing, which cannot be imported: that module runs its main). With
// `killAfter: k` the process SIGKILLs itself right after its k-th write (an object, a token, a job created or
// stopped, a serve config applied) has landed: the point where a Lambda dies mid-call. It prints its result and its
// write count as one JSON line otherwise.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComputePort, JobRequest, ObjectStore, TokenStore } from '../../core/ports.js';
import { systemClock } from '../../core/ports.js';
import type { JobStatus } from '../../core/job-status.js';
import { LocalObjectStore } from '../../local/object-store.js';
import { FileTokenStore } from '../../local/token-store.js';
import { lambdaContext } from '../../local/lambda-context.js';
import { createSubmitStageHandler } from '../../functions/submit-stage.js';
import { createFinishRunHandler } from '../../functions/finish-run.js';
import { createPromoteHandler } from '../../functions/promote.js';
import { writeAtomic } from '../../local/object-store.js';
import type { ServeConfig } from '../../core/serve-config.js';
import type { ServeStatus, ServingPort } from '../../core/ports.js';

export type KilledHandler = 'submit-stage' | 'finish-run' | 'promote';
export interface KillArgs {
  handler: KilledHandler;
  home: string;
  event: unknown;
  killAfter?: number;
}

/** Jobs as files: <dir>/<jobId>.json, created with O_EXCL. */
export class FileCompute implements ComputePort {
  readonly backend = 'kuberay' as const;
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  private file = (jobId: string) => join(this.dir, `${jobId}.json`);
  async submit(req: JobRequest) {
    const status: JobStatus = { jobId: req.jobId, state: 'PENDING', labels: req.labels, startTime: 1_000 };
    try {
      writeFileSync(this.file(req.jobId), JSON.stringify(status), { flag: 'wx' });
      return { jobId: req.jobId, created: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { jobId: req.jobId, created: false };
      throw e;
    }
  }
  async get(jobId: string) {
    try {
      return JSON.parse(readFileSync(this.file(jobId), 'utf8')) as JobStatus;
    } catch {
      return undefined;
    }
  }
  async list(selector: Record<string, string>) {
    const all = readdirSync(this.dir).map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as JobStatus);
    return all.filter((j) => Object.entries(selector).every(([k, v]) => j.labels[k] === v));
  }
  async logs() {
    return '';
  }
  async stop(jobId: string) {
    const j = await this.get(jobId);
    if (j && j.state !== 'STOPPED') writeFileSync(this.file(jobId), JSON.stringify({ ...j, state: 'STOPPED', endTime: 2_000 }));
  }
}

/** Serving shared by processes: apply writes the config to a file (atomically), status reads it back. */
class FileServing implements ServingPort {
  constructor(private readonly file: string) {}
  async apply(_pipeline: string, config: ServeConfig) {
    await writeAtomic(this.file, JSON.stringify(config));
  }
  async status(): Promise<ServeStatus> {
    let text: string | undefined;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return { state: 'NOT_STARTED' };
    }
    const app = (JSON.parse(text) as { applications: Array<{ args?: { run_id?: string } }> }).applications[0];
    return { state: 'RUNNING', ...(app?.args?.run_id ? { runId: app.args.run_id } : {}) };
  }
  endpoint() {
    return 'http://127.0.0.1:8000/predict';
  }
}

const WRITES = new Set(['putJson', 'putJsonIf', 'copyPrefix', 'put', 'delete', 'submit', 'stop', 'apply']);

/** Counts the writes through `target`; after the `killAfter`-th has landed, SIGKILL. */
function killing<T extends object>(target: T, counter: { n: number; killAfter?: number }): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(t);
      if (!WRITES.has(String(prop))) return fn;
      return async (...a: unknown[]) => {
        const out = await fn(...a);
        counter.n++;
        if (counter.killAfter === counter.n) process.kill(process.pid, 'SIGKILL');
        return out;
      };
    },
  });
}

async function main() {
  const a = JSON.parse(process.argv[2]!) as KillArgs;
  const counter: { n: number; killAfter?: number } = { n: 0, ...(a.killAfter !== undefined ? { killAfter: a.killAfter } : {}) };
  const store = killing<ObjectStore>(new LocalObjectStore(), counter);
  const tokens = killing<TokenStore>(new FileTokenStore(join(a.home, 'tokens')), counter);
  const compute = killing<ComputePort>(new FileCompute(join(a.home, 'jobs')), counter);
  const serving = killing(new FileServing(join(a.home, 'serving.json')), counter);
  const now = () => new Date();
  const h =
    a.handler === 'submit-stage'
      ? createSubmitStageHandler({ compute, tokens, store })
      : a.handler === 'finish-run'
        ? createFinishRunHandler({ store, compute, tokens, now })
        : createPromoteHandler({ serving, store, clock: systemClock, now, readyTimeoutMs: 5_000 });
  try {
    const result = await (h as (e: unknown, c: unknown) => Promise<unknown>)(a.event, lambdaContext(a.handler));
    process.stdout.write(`${JSON.stringify({ result, writes: counter.n })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ error: (e as Error).name, message: (e as Error).message, writes: counter.n })}\n`);
  }
}

if (process.argv[2]) await main();
