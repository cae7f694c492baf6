// `sentinel resume RUN`: a new run of the same pipeline and dataset that reuses the finished stages' results and
// continues the stage that stopped from its checkpoint (core/resume.ts plans it; submit-stage honours it).
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { planResume } from '../core/resume.js';
import { stageUri } from '../core/artifacts.js';
import { STAGES } from '../core/stages.js';
import { homeOption, openHome, usageError } from './runs.js';
import { bold, dim, yellow } from './format.js';
import { followRun, jsonOutput, out, withSession } from './session-command.js';
import { BACKEND_USAGE, backendOf, backendOptions, guarded } from './backend.js';
import { resolveRunArg } from './run-arg.js';
import { resumeOnAws } from './resume-aws.js';

export const RESUME_USAGE = `Usage: sentinel resume RUN [--port N] [--serve | --no-serve] [--json] [--home DIR] [--tracking-uri URL | --no-tracking] [--backend local|aws] [--stack FILE]
  Starts a new run that continues RUN (failed, cancelled or abandoned): the stages that finished are not run again
  (their result.json is reused, shown as "ingest reused from r…"), the stage that stopped continues from its
  checkpoint (train: Ray Train's; tune: the Tuner's), and the rest run as usual — on a local Ray head, like \`run\`.
  The new run id is derived from RUN and the attempt, so repeating the command finds the resume it started.
  RUN is a run id (as \`sentinel runs\` lists them) or a unique prefix of one.
  --port N   Serve's HTTP port (default 8000)     --json   the run report as JSON on stdout
  --serve / --no-serve   keep serving the model after a successful resume until Ctrl-C, as \`run\` does (default:
             serve when stdout is a terminal and CI is unset)
  --backend aws: starts a new Step Functions execution of the deployed stack instead (StartExecution, named from RUN
  and the attempt, so repeating it starts nothing new) and returns; the deployed submit-stage answers the reused
  stages' tasks with their copied results (no RayJob) and copies RUN's checkpoints for the stage that continues.
  --json then prints {runId, resumeOf, executionArn, alreadyStarted, reused, continueAt}.
${BACKEND_USAGE}  Exit codes: 0 the resumed run succeeded (or already had), 1 it failed, RUN is not found, still running or succeeded
  (nothing to resume), 2 bad usage.
`;

export async function resumeCommand(args: string[], repoRoot: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8000' },
        serve: { type: 'boolean' },
        'no-serve': { type: 'boolean' },
        json: { type: 'boolean', default: false },
        home: homeOption,
        'tracking-uri': { type: 'string' },
        'no-tracking': { type: 'boolean', default: false },
        ...backendOptions,
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    return usageError((e as Error).message, RESUME_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(RESUME_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `resume takes one RUN, got ${positionals.length}` : 'resume needs a RUN id (`sentinel runs --status failed` lists candidates)', RESUME_USAGE);
  // A deployed stack: a new execution with the reuse in its input (cli/resume-aws.ts); nothing runs here.
  if (backendOf(values.backend) === 'aws' && (values.serve || values['no-serve'])) return usageError('--serve/--no-serve are for a local resume; a deployed stack serves through its RayService', RESUME_USAGE);
  if (backendOf(values.backend) === 'aws') return guarded(() => resumeOnAws(positionals[0]!, values));
  if (values.stack !== undefined) return usageError('--stack names a deployed stack; it goes with --backend aws', RESUME_USAGE);
  if (values.serve && values['no-serve']) return usageError('--serve and --no-serve contradict each other', RESUME_USAGE);
  const serve = values['no-serve'] ? false : (values.serve ?? (!!process.stdout.isTTY && !process.env.CI));
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usageError(`--port: ${values.port} is not a port number`, RESUME_USAGE);
  const trackingUri = values['tracking-uri'];
  if (trackingUri !== undefined && !/^https?:\/\/\S+$/.test(trackingUri)) return usageError(`--tracking-uri: ${trackingUri} is not an http(s) URL of an MLflow server`, RESUME_USAGE);
  jsonOutput(values.json);
  const home = resolve(values.home);
  const history = openHome(home);
  if (!history) return 1;
  // Listing marks the runs of a dead command ABANDONED first.
  const resolved = await resolveRunArg(history, positionals[0]!);
  if (!resolved) return 1;
  const { records } = resolved;
  const source = resolved.record;
  const stored = await history.stageResults(source.pipeline, source.runId);
  const results = Object.fromEntries(STAGES.filter((s) => stored[s]).map((s) => [s, { uri: stored[s]!.uri, ok: !!stored[s]!.result && stored[s]!.result!.stage === s }]));
  const plan = planResume({ record: source, results, stageUri: (s) => stageUri(history.artifactRoot, source.pipeline, source.runId, s) }, (id) => records.find((r) => r.runId === id));
  if (plan.kind === 'refused') {
    process.stderr.write(`sentinel: ${plan.reason}\n`);
    return 1;
  }
  if (plan.kind === 'existing') {
    out(`${yellow(`run ${source.runId} was already resumed as ${plan.runId}`)} (${plan.record.status}); \`sentinel status ${plan.runId}\` shows it`);
    if (values.json) process.stdout.write(`${JSON.stringify({ runId: plan.runId, resumeOf: source.runId, alreadyStarted: true, status: plan.record.status }, null, 2)}\n`);
    return plan.record.status === 'SUCCEEDED' || plan.record.status === 'RUNNING' ? 0 : 1;
  }
  const spec = await history.spec(source.pipeline).catch((e: Error) => {
    process.stderr.write(`sentinel: the deployed spec of ${source.pipeline} does not read: ${e.message}\n`);
    return undefined;
  });
  if (!spec) {
    process.stderr.write(`sentinel: no deployed spec of ${source.pipeline} in ${history.bucket}/pipelines; \`sentinel run --spec FILE\` deploys it\n`);
    return 1;
  }
  out(`${bold('Sentinel')} resume of ${bold(source.runId)} (${source.pipeline}, ${source.status}) as run ${bold(plan.runId)}`);
  for (const s of plan.reused) out(dim(`  ${s} reused from ${source.runId}`));
  if (plan.continueAt) out(dim(`  ${plan.continueAt} continues${plan.resume.checkpoints[plan.continueAt] ? ` from ${source.runId}'s checkpoints (if it wrote any)` : ''}`));
  return withSession(
    { repoRoot, home, servePort: port, command: 'sentinel resume', ...(values['no-tracking'] ? {} : { tracking: trackingUri ? { uri: trackingUri } : ('local' as const) }) },
    async (session, interrupted) => {
      const champion = await session.restoreChampion(spec);
      if (champion) out(dim(`  champion ${champion.runId} (${champion.metric} ${champion.value.toFixed(4)}) serving at ${session.endpoint(spec)}`));
      const started = await session.startResumed(spec, source.datasetUri, plan.requestId, plan.resume);
      const report = await followRun(session, started, spec, source.datasetUri, values.json);
      if (interrupted()) return 130;
      if (report.outcome.status === 'SUCCEEDED' && serve) {
        out(`\n${bold('Serving')} ${session.endpoint(spec)} — press Ctrl-C to stop.`);
        await new Promise(() => undefined);
      }
      return report.outcome.status === 'SUCCEEDED' ? 0 : 1;
    },
  );
}
