// The `sentinel` command.
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { runCommand } from './run.js';
import { mlflowCommand } from './mlflow.js';
import { render } from './render.js';
import { simulateCommand } from './simulate.js';
import { initPipeline, moduleNameFor, TEMPLATES } from './init.js';
import { loadSpecOrExplain } from './run.js';
import { RUN_ID_PATTERN, runIdFor } from '../core/run-id.js';
import { runsCommand, sweepHomesAs } from './runs.js';
import { statusCommand } from './status.js';
import { cancelCommand } from './cancel.js';
import { resumeCommand } from './resume.js';
import { rollbackCommand } from './rollback.js';
import { logsCommand } from './logs.js';
import { guarded } from './backend.js';
import { startCommand } from './start.js';
import { reportCommand } from './report.js';

const repoRoot = resolve(import.meta.dirname, '..');

const usage = `sentinel — ML pipelines on KubeRay, run locally with the same state machine

Usage:
  sentinel run [--spec FILE] [--dataset CSV] [--request-id ID] [--port N] [--serve|--no-serve] [--json] [--home DIR]
              [--tracking-uri URL | --no-tracking]
      One full local run: ingest → train → tune → evaluate → promote-to-Serve on a local Ray head.
      Tracked in MLflow: a server starts beside the Ray head (SQLite in <home>/mlflow, artifacts in the bucket) and
      stops after; the summary prints the run's MLflow URL and the registry's champion version.
      --tracking-uri URL tracks on an existing MLflow server instead (none is started); --no-tracking: no tracking.
      Defaults: the reference spec (pipelines/breast-cancer.yaml) and its dataset; home .sentinel/. Other reference
      specs: pipelines/iris.yaml (multiclass), diabetes.yaml (regression), movielens.yaml (PyTorch recommender).
      Before the Ray head starts, the spec is validated and its model checks model.params (and the search space).
      The summary ends with a first call: the route's own example (GET <route>) POSTed to it.
      --serve keeps the model serving after the run until Ctrl-C (default when the terminal is interactive).
      --json prints the run report (with the first call) as JSON on stdout; progress goes to stderr.
  sentinel runs [--pipeline P] [--status running|succeeded|failed|interrupted|promoted|kept] [--since 2h|ISO] [--json] [--home DIR]
      The runs recorded in the home, newest first: id, pipeline, status, started, duration, outcome (promoted / kept /
      failed, and why).
  sentinel status RUN [--json] [--home DIR]
      One run: each stage's state, attempts, times and metrics, the gate's decision and reason, the champion, the
      artifacts, the control-plane metrics, the MLflow run; while a \`sentinel run\` is live (running, or serving with
      --serve): the Ray dashboard URL and the serving replicas. Exit 1 when the run failed or is not found.
  sentinel report RUN [--out FILE] [--home DIR] [--backend local|aws]
      One self-contained HTML page of a run: the pipeline graph coloured by outcome, metrics, the gate's decision,
      tuning curves, lineage (dataset SHA-256 → run → model → endpoint), time inside Ray. Exit 1 when not found.
  sentinel start PIPELINE [--request-id ID] [--dataset s3://…] --backend aws [--stack FILE]
      Starts a run on the deployed stack (StartExecution, named from the request id: the same id is the same run).
  runs, status, logs, report, cancel, resume, rollback (and start) take --backend local|aws (or SENTINEL_BACKEND); aws reads the deployed stack named
      by --stack FILE (SST's outputs, default .sst/outputs.json) or SENTINEL_BUCKET + SENTINEL_STATE_MACHINE_ARN
      (docs/aws-backend.md).
  sentinel cancel RUN [--timeout S] [--json] [--home DIR]
      Stops a live run (its execution and every Ray job of it) and records CANCELLED with who and when; Ctrl-C in
      the \`sentinel run\` terminal does the same. Exit 0 cancelled, 1 not found or already ended.
  sentinel resume RUN [--port N] [--serve|--no-serve] [--json] [--home DIR] [--no-tracking] [--backend aws]
      A new run that reuses RUN's finished stages ("ingest reused from r…") and continues the stage that stopped from
      its checkpoint. Repeating it finds the same resumed run. A run whose CLI died is marked ABANDONED by the next
      command (run, runs, status, cancel, resume) and can be resumed. --backend aws: a new Step Functions execution
      with the reuse in its input; the deployed submit-stage completes reused stages and copies the checkpoints.
  sentinel rollback PIPELINE [--reason TEXT] [--json] [--home DIR] [--backend aws [--timeout S]]
      The previous champion back behind the route (in the live session's Serve, or in champion.json for the next
      run), recorded with why in champion.json's history and <artifacts>/PIPELINE/rollbacks/. --backend aws: the
      deployed RayService over the EKS API (the stack's clusterName/namespace), champion.json on S3.
  sentinel logs RUN [STAGE] [--attempt N] [--follow] [--home DIR]
      The driver output of the run's stage jobs, kept beside each stage's result (<stage>/logs/attempt-N.log, written
      by the job as it runs, so it outlives the Ray head): every stage in order, or one STAGE (latest attempt, or
      --attempt N); --follow streams it until the stage (or the run) ends. Exit 1 when there is no such log.
  sentinel simulate upload|spot|idle [--spec FILE] [--dataset CSV] [--stage S] [--copies N] [--minutes N] [--idle-minutes N]
      Injects an AWS event into the local runtime and follows what it causes:
        upload  an S3 Object Created under datasets/<pipeline>/ (delivered --copies times) starts one run
        spot    an EC2 spot interruption warning while --stage (default train) runs: retried, resumed from checkpoint
        idle    --minutes pass with no job: the reaper's decisions (never the serving cluster)
  sentinel init NAME --template xgboost|sklearn|lightning [--dir PARENT]
      Scaffolds PARENT/NAME (default ./NAME): pipeline.yaml, NAME_model.py (your model, on sentinel_sdk; "-" in
      NAME becomes "_"), test_NAME_model.py and a data.csv to start from. Then:
        ./sentinel run --spec NAME/pipeline.yaml      .venv/bin/python -m pytest NAME
      Guide: docs/bring-your-own-model.md.
  sentinel mlflow [--port N] [--home DIR]
      The MLflow UI over the runs tracked so far (the same SQLite and artifacts \`run\` uses), until Ctrl-C.
  sentinel render --out DIR [--spec FILE] [--run-id ID] [--namespace NS] [--region R] [--account A] [--stage S]
      Writes every deployable artifact, offline: the state machine ASL (+ its graph), EventBridge patterns, rules and
      schedules, IAM and resource policies (aws/), and the RayJobs, RayService and RBAC a run would create (kubernetes/).

The spec (README.md, "The pipeline spec"): name, task (binary|multiclass|regression), model {module, params},
code (a folder of your modules, relative to the spec file), dataset {uri, target, split}, stages (train
iterations, tune searchSpace/maxIterations), gate {metric of the task, floor, minImprovement}, serve {route, app}.
Paths in a spec file (code, a dataset uri starting with ./ or ../) are relative to the file.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage);
    return command ? 0 : 2;
  }
  if (command === 'run') {
    const { values } = parseArgs({
      args: rest,
      options: {
        spec: { type: 'string', default: join(repoRoot, 'pipelines', 'breast-cancer.yaml') },
        dataset: { type: 'string' },
        'request-id': { type: 'string' },
        port: { type: 'string', default: '8000' },
        serve: { type: 'boolean' },
        'no-serve': { type: 'boolean' },
        json: { type: 'boolean', default: false },
        home: { type: 'string', default: resolve('.sentinel') },
        'tracking-uri': { type: 'string' },
        'no-tracking': { type: 'boolean', default: false },
      },
      strict: true,
    });
    const port = Number(values.port);
    const trackingUri = values['tracking-uri'];
    if (trackingUri !== undefined && !/^https?:\/\/\S+$/.test(trackingUri)) throw new Error(`--tracking-uri: ${trackingUri} is not an http(s) URL of an MLflow server`);
    if (trackingUri !== undefined && values['no-tracking']) throw new Error('--tracking-uri and --no-tracking exclude each other');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port: ${values.port} is not a port number`);
    return runCommand({
      repoRoot,
      home: resolve(values.home),
      specPath: resolve(values.spec),
      ...(values.dataset ? { datasetPath: resolve(values.dataset) } : {}),
      ...(values['request-id'] ? { requestId: values['request-id'] } : {}),
      servePort: port,
      serve: values['no-serve'] ? false : (values.serve ?? (!!process.stdout.isTTY && !process.env.CI)),
      json: values.json,
      tracking: values['no-tracking'] ? 'off' : trackingUri ? { uri: trackingUri } : 'local',
    });
  }
  sweepHomesAs(`sentinel ${command}`);
  if (command === 'runs') return guarded(() => runsCommand(rest));
  if (command === 'status') return guarded(() => statusCommand(rest));
  if (command === 'start') return guarded(() => startCommand(rest));
  if (command === 'logs') return logsCommand(rest);
  if (command === 'cancel') return cancelCommand(rest);
  if (command === 'resume') return resumeCommand(rest, repoRoot);
  if (command === 'rollback') return rollbackCommand(rest);
  if (command === 'report') return guarded(() => reportCommand(rest));
  if (command === 'mlflow') {
    const { values } = parseArgs({
      args: rest,
      options: { port: { type: 'string', default: '5000' }, home: { type: 'string', default: resolve('.sentinel') } },
      strict: true,
    });
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port: ${values.port} is not a port number`);
    return mlflowCommand({ repoRoot, home: resolve(values.home), port });
  }
  if (command === 'simulate') {
    const [kind, ...args] = rest;
    const { values } = parseArgs({
      args,
      options: {
        spec: { type: 'string', default: join(repoRoot, 'pipelines', 'breast-cancer.yaml') },
        dataset: { type: 'string' },
        stage: { type: 'string', default: 'train' },
        copies: { type: 'string', default: '1' },
        minutes: { type: 'string', default: '60' },
        'idle-minutes': { type: 'string', default: '30' },
        port: { type: 'string', default: '8000' },
        json: { type: 'boolean', default: false },
        home: { type: 'string', default: resolve('.sentinel') },
      },
      strict: true,
    });
    const int = (name: string, v: string, min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: ${v} is not an integer ≥ ${min}`);
      return n;
    };
    return simulateCommand(kind ?? '', {
      repoRoot,
      home: resolve(values.home),
      servePort: int('port', values.port, 1),
      specPath: resolve(values.spec),
      ...(values.dataset ? { datasetPath: resolve(values.dataset) } : {}),
      stage: values.stage,
      copies: int('copies', values.copies, 1),
      minutes: int('minutes', values.minutes, 0),
      idleMinutes: int('idle-minutes', values['idle-minutes'], 1),
      json: values.json,
    });
  }
  if (command === 'init') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { template: { type: 'string' }, dir: { type: 'string', default: '.' } },
      allowPositionals: true,
      strict: true,
    });
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new Error(`init needs exactly one NAME; see sentinel --help`);
    if (!values.template) throw new Error(`init needs --template ${TEMPLATES.join('|')}`);
    const pythonEnv = process.env.SENTINEL_PYTHON_ENV ?? join(repoRoot, '.venv');
    const files = await initPipeline({ repoRoot, name, template: values.template, parent: resolve(values.dir), pythonEnv });
    for (const f of files) process.stdout.write(`  wrote ${f}\n`);
    const dir = join(values.dir, name);
    process.stdout.write(`\nNext:\n  ./sentinel run --spec ${join(dir, 'pipeline.yaml')}\n  .venv/bin/python -m pytest ${dir}\nEdit ${join(dir, `${moduleNameFor(name)}.py`)} to make the model yours (docs/bring-your-own-model.md).\n`);
    return 0;
  }
  if (command === 'render') {
    const { values } = parseArgs({
      args: rest,
      options: {
        out: { type: 'string' },
        region: { type: 'string', default: 'us-east-1' },
        account: { type: 'string', default: '123456789012' },
        stage: { type: 'string', default: 'dev' },
        spec: { type: 'string', default: join(repoRoot, 'pipelines', 'breast-cancer.yaml') },
        'run-id': { type: 'string' },
        namespace: { type: 'string', default: 'sentinel' },
      },
      strict: true,
    });
    if (!values.out) throw new Error('render needs --out DIR');
    const spec = loadSpecOrExplain(resolve(values.spec));
    if (!spec) return 2;
    const runId = values['run-id'] ?? runIdFor(spec.name, { kind: 'manual', requestId: 'render' });
    if (!RUN_ID_PATTERN.test(runId)) throw new Error(`--run-id: "${runId}" is not a run id (r + 9 hex digits)`);
    const files = await render({ out: resolve(values.out), region: values.region, account: values.account, stage: values.stage, spec, runId, namespace: values.namespace });
    for (const f of files) process.stdout.write(`${f}\n`);
    return 0;
  }
  process.stderr.write(`unknown command "${command}"\n\n${usage}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`sentinel: ${e.message}\n`);
    process.exit(2);
  },
);
