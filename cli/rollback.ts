// `sentinel rollback PIPELINE`: the previous champion back behind the route, through core's rollback(), and why.
// With a live session on the home its Serve switches now; without one only champion.json changes, and the next
// `sentinel run` serves it (restoreChampion). Either way champion.json's history and a run-less record
// (<artifacts>/<pipeline>/rollbacks/<time>.json) say when, by whom, why, and from which run to which.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { rollback } from '../core/promote.js';
import { championUri, joinUri } from '../core/artifacts.js';
import { systemClock, type ServingPort, type TrackingPort } from '../core/ports.js';
import type { ChampionChange, ChampionRecord } from '../core/model.js';
import { isSentinelError } from '../core/errors.js';
import { LocalObjectStore } from '../local/object-store.js';
import { liveSessionFile } from '../local/session-file.js';
import { RecordedServing } from '../local/recorded-serving.js';
import { commandBus } from '../local/command-bus.js';
import { RUN_EVENT_TYPES } from '../core/run-event-names.js';
import { RayServeServing } from '../adapters/ray/serve-serving.js';
import { MlflowRest } from '../adapters/mlflow/rest.js';
import { homeOption, openHome, usageError } from './runs.js';
import { BACKEND_USAGE, backendOf, backendOptions, guarded } from './backend.js';
import { rollbackOnAws } from './rollback-aws.js';
import { bold, dim, green } from './format.js';

export const ROLLBACK_USAGE = `Usage: sentinel rollback PIPELINE [--reason TEXT] [--json] [--home DIR] [--backend local|aws] [--stack FILE] [--timeout S]
  Puts the pipeline's previous champion back behind its route and records why. With a live \`sentinel run\` on the
  home (running, or serving with --serve), its Ray Serve switches now (zero-downtime) and the registry alias follows;
  with none, champion.json changes and the next \`sentinel run\` serves it — the output says which.
  --reason TEXT   why (recorded in champion.json's history and <artifacts>/PIPELINE/rollbacks/)
  --json          {pipeline, from, to, where, reason, at, event} on stdout (event: the Model Rolled Back published;
                  the pipeline's spec \`notify\` says who hears of it)
  --backend aws: the deployed RayService switches (over the EKS API with your AWS credentials and an EKS token; the
                  cluster and namespace are the stack's outputs clusterName/namespace, or SENTINEL_CLUSTER_NAME and
                  SENTINEL_NAMESPACE), champion.json on S3 swaps by compare-and-swap, Model Rolled Back goes on the
                  default EventBridge bus. --timeout S: how long the previous champion may take to serve (default 900).
${BACKEND_USAGE}  Exit codes: 0 rolled back, 1 no champion or no previous one to go back to, or Serve did not take it, 2 bad usage.
`;

export async function rollbackCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { reason: { type: 'string' }, json: { type: 'boolean', default: false }, home: homeOption, timeout: { type: 'string' }, ...backendOptions, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (e) {
    return usageError((e as Error).message, ROLLBACK_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(ROLLBACK_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usageError(positionals.length ? `rollback takes one PIPELINE, got ${positionals.length}` : 'rollback needs a PIPELINE (the spec\'s name)', ROLLBACK_USAGE);
  const pipeline = positionals[0]!;
  if (values.reason !== undefined && (values.reason.trim() === '' || values.reason.length > 1000)) return usageError('--reason: give a non-empty reason of at most 1000 characters', ROLLBACK_USAGE);
  // A deployed stack: the RayService over the EKS API, champion.json on S3 (cli/rollback-aws.ts).
  if (backendOf(values.backend) === 'aws') {
    const timeout = Number(values.timeout ?? '900');
    if (!Number.isFinite(timeout) || timeout <= 0) return usageError(`--timeout: "${values.timeout}" is not a number of seconds > 0`, ROLLBACK_USAGE);
    let awsUser = 'unknown user';
    try {
      awsUser = userInfo().username;
    } catch {
      /* no passwd entry */
    }
    const reasonAws = values.reason ?? 'rollback requested (no reason given)';
    return guarded(() => rollbackOnAws(pipeline, { stack: values.stack, json: values.json, timeoutSeconds: timeout, reason: reasonAws, by: `\`sentinel rollback --backend aws\` (user ${awsUser})` }));
  }
  if (values.stack !== undefined || values.timeout !== undefined) return usageError(`${values.stack !== undefined ? '--stack' : '--timeout'} goes with --backend aws`, ROLLBACK_USAGE);
  const home = resolve(values.home);
  const history = openHome(home);
  if (!history) return 1;
  await history.abandoned();
  const store = new LocalObjectStore();
  const uri = championUri(history.artifactRoot, pipeline);
  const before = await store.getJson<ChampionRecord>(uri);
  if (!before) {
    process.stderr.write(`sentinel: ${pipeline} has no champion in ${history.where} (nothing was promoted yet; \`sentinel runs --pipeline ${pipeline}\`)\n`);
    return 1;
  }
  if (!before.previous) {
    process.stderr.write(`sentinel: ${pipeline} has no previous champion to roll back to (its champion ${before.current.runId} is the first)\n`);
    return 1;
  }
  const session = liveSessionFile(home);
  let serving: ServingPort;
  let tracking: TrackingPort | undefined;
  if (session) {
    serving = new RayServeServing({ dashboard: { url: session.dashboardUrl, ...(session.dashboardToken ? { token: session.dashboardToken } : {}) }, http: { host: '127.0.0.1', port: session.servePort } });
    if (session.mlflowUri) tracking = new MlflowRest({ uri: session.mlflowUri });
  } else serving = new RecordedServing(8000);
  let user = 'unknown user';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const by = `\`sentinel rollback\` (pid ${process.pid}, user ${user})`;
  const reason = values.reason ?? 'rollback requested (no reason given)';
  // `Model Rolled Back` goes on a local bus with the deployment's run-events rule (notify, as the spec says), and is
  // recorded with the rollback.
  const events = commandBus({ home, bucketUri: history.bucket, artifactRoot: history.artifactRoot });
  let current;
  try {
    current = await rollback({ artifactRoot: history.artifactRoot, pipeline, reason }, { serving, store, clock: systemClock, now: () => new Date(), publisher: events.bus, ...(tracking ? { tracking } : {}) });
  } catch (e) {
    const what = isSentinelError(e, 'ValidationFailed') ? '' : ' (champion.json is unchanged; the current champion still serves)';
    process.stderr.write(`sentinel: rollback of ${pipeline} failed: ${(e as Error).message}${what}\n`);
    return 1;
  } finally {
    await events.close();
  }
  const published = events.bus.log.find((l) => l.event['detail-type'] === RUN_EVENT_TYPES.rolledBack)?.event;
  const event = published && { id: published.id, source: published.source, 'detail-type': published['detail-type'], time: published.time, detail: published.detail };
  for (const f of events.failures) process.stderr.write(`sentinel: warning: the rollback's notification was not sent: ${f}\n`);
  const at = new Date().toISOString();
  const change: ChampionChange = { action: 'rollback', at, by, reason, from: before.current.runId, to: current.runId, where: session ? 'live' : 'recorded' };
  const after = await store.getJson<ChampionRecord>(uri);
  if (after) await store.putJson(uri, { ...after, history: [...(before.history ?? []), change] } satisfies ChampionRecord);
  await store.putJson(joinUri(history.artifactRoot, pipeline, 'rollbacks', `${at.replace(/[:.]/g, '-')}.json`), { pipeline, ...change, ...(event ? { event } : {}) });
  if (values.json) process.stdout.write(`${JSON.stringify({ pipeline, ...change, ...(event ? { event } : {}) }, null, 2)}\n`);
  else {
    process.stdout.write(`${green('✔')} ${bold(`${pipeline} rolled back`)}: ${current.runId} (${current.metric} ${current.value.toFixed(4)}) is champion again in place of ${before.current.runId}\n`);
    process.stdout.write(
      session
        ? `  ${dim(`serving now in the live session (pid ${session.pid}) on port ${session.servePort}`)}\n`
        : `  ${dim('no session is live: recorded in champion.json; the next `sentinel run` serves it')}\n`,
    );
    process.stdout.write(`  ${dim(`reason: ${reason}`)}\n`);
  }
  return 0;
}
