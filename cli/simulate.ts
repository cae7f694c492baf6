// `sentinel simulate upload|spot|idle`: inject the events of the AWS flows into the local runtime and watch them:
// an S3 upload starting a run, a spot interruption during a stage (retried, resumed from its checkpoint), an idle
// period (the reaper's decisions). The events are AWS's own shapes (test/fixtures/aws-events) routed by the
// project's own rules.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { LocalSession } from '../local/session.js';
import type { PipelineSpec } from '../core/spec.js';
import { stageUri } from '../core/artifacts.js';
import { isStage, type Stage } from '../core/stages.js';
import { LOCAL_BUCKET } from '../local/runtime.js';
import { LOCAL_INSTANCE_ID, LocalReaper, noNodeGroups } from '../local/local-cluster.js';
import { reapIdle } from '../core/reaper.js';
import { bold, dim, green, red, yellow } from './format.js';
import { followExecution, followRun, jsonOutput, out, withSession, type SessionCommandOptions } from './session-command.js';
import { checkModelOrExplain, loadSpecOrExplain } from './run.js';

export interface SimulateOptions extends SessionCommandOptions {
  specPath: string;
  datasetPath?: string;
  stage: string;
  copies: number;
  minutes: number;
  idleMinutes: number;
  json: boolean;
}

/** An S3 `Object Created` event as EventBridge delivers it (the AWS sample's shape). */
function s3Event(bucketDir: string, path: string) {
  const key = relative(bucketDir, path);
  const body = readFileSync(path);
  return {
    source: 'aws.s3',
    'detail-type': 'Object Created',
    resources: [`arn:aws:s3:::${LOCAL_BUCKET}`],
    detail: {
      version: '0',
      bucket: { name: LOCAL_BUCKET },
      object: { key, size: body.length, etag: createHash('md5').update(body).digest('hex'), 'version-id': randomBytes(8).toString('hex'), sequencer: Date.now().toString(16).toUpperCase() },
      'request-id': randomUUID(),
      requester: '000000000000',
      reason: 'PutObject',
    },
  };
}

export const spotWarning = (instanceId: string) => ({
  source: 'aws.ec2',
  'detail-type': 'EC2 Spot Instance Interruption Warning',
  resources: [`arn:aws:ec2:local:000000000000:instance/${instanceId}`],
  detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
});

/**
 * True once the stage has a checkpoint it can resume from: Ray Train's controller registers checkpoints in
 * checkpoint_manager_snapshot.json (Tune in its experiment state) a moment after the worker writes the folder,
 * and only registered checkpoints are restored. Every Sentinel checkpoint holds sentinel-checkpoint.json beside the
 * model's own files (whatever its framework saves).
 */
export function hasCheckpoint(dir: string): boolean {
  if (!existsSync(dir)) return false;
  const files = readdirSync(dir, { recursive: true }) as string[];
  const registered = files.some((p) => /(^|\/)(checkpoint_manager_snapshot\.json|experiment_state-[^/]*\.json)$/.test(p));
  return registered && files.some((p) => /(^|\/)checkpoint_[^/]+\/sentinel-checkpoint\.json$/.test(p));
}

async function prepare(session: LocalSession, o: SimulateOptions, spec: PipelineSpec) {
  await session.deploySpec(o.specPath, spec);
  const datasetUri = await session.prepareDataset(spec, o.datasetPath);
  await session.restoreChampion(spec);
  return datasetUri;
}

export async function simulateCommand(kind: string, o: SimulateOptions): Promise<number> {
  if (!['upload', 'spot', 'idle'].includes(kind)) {
    process.stderr.write(`simulate: unknown event "${kind}" (upload, spot or idle)\n`);
    return 2;
  }
  if (kind === 'spot' && !isStage(o.stage)) {
    process.stderr.write(`simulate spot: --stage must be one of ingest, train, tune, evaluate\n`);
    return 2;
  }
  jsonOutput(o.json);
  const spec = loadSpecOrExplain(o.specPath);
  if (!spec) return 2;
  out(`${bold('Sentinel')} simulate ${bold(kind)} for ${bold(spec.name)}`);
  // upload and spot run the pipeline: its model checks its params first (idle runs nothing).
  const refused = kind === 'idle' ? undefined : await checkModelOrExplain(spec, o.specPath, o.repoRoot);
  if (refused !== undefined) return refused;
  return withSession(o, async (session) => {
    const datasetUri = await prepare(session, o, spec);
    const bus = session.runtime.bus;

    if (kind === 'upload') {
      const event = s3Event(session.bucket, datasetUri);
      out(`  ${yellow('⇪')} S3 Object Created s3://${LOCAL_BUCKET}/${event.detail.object.key} (version ${event.detail.object['version-id']}), delivered ${o.copies}×`);
      for (let i = 0; i < o.copies; i++) await bus.publish([event]);
      const executions = session.runtime.allExecutions();
      out(`  ${executions.length === 1 ? green('✔') : red('✖')} ${executions.length} execution(s) started for ${o.copies} deliveries: ${executions.map((e) => e.name).join(', ')}`);
      const execution = executions[0];
      if (!execution) return 1;
      const report = await followRun(session, followExecution(session, execution), spec, datasetUri, o.json);
      return report.outcome.status === 'SUCCEEDED' ? 0 : 1;
    }

    if (kind === 'spot') {
      const stage = o.stage as Stage;
      const started = await session.start(spec, datasetUri, randomUUID());
      const dir = stageUri(session.artifactRoot, spec.name, started.runId, stage);
      const inject = (async () => {
        while (!hasCheckpoint(dir)) {
          const outcome = await Promise.race([started.execution.result, new Promise((r) => setTimeout(() => r(undefined), 500))]);
          if (outcome) return out(yellow(`  ${stage} ended before its first checkpoint: nothing to interrupt`));
        }
        out(`\n  ${yellow('⚡')} EC2 Spot Instance Interruption Warning for ${LOCAL_INSTANCE_ID} (the local Ray head's pretend instance) while ${stage} runs`);
        await bus.publish([spotWarning(LOCAL_INSTANCE_ID)]);
        const handled = bus.log.findLast((l) => l.event.source === 'sentinel.interruptions')?.event.detail as { markedJobs?: string[]; evicted?: string[] } | undefined;
        out(`  ${yellow('⚡')} marked ${JSON.stringify(handled?.markedJobs ?? [])}, evicted ${JSON.stringify(handled?.evicted ?? [])}; the stage fails as SpotInterrupted and is retried from its checkpoint\n`);
        session.runtime.cluster.uncordon(); // a replacement node joins
      })();
      const report = await followRun(session, started, spec, datasetUri, o.json);
      await inject;
      return report.outcome.status === 'SUCCEEDED' ? 0 : 1;
    }

    // idle: the reaper, with the clock moved forward
    const reaper = new LocalReaper(session.runtime.compute, async () => (await session.serving.status(spec.name)).state === 'RUNNING', Date.now());
    const now = new Date(Date.now() + o.minutes * 60_000);
    out(`  ${yellow('⏱')} ${o.minutes} minutes pass with no job (idle timeout ${o.idleMinutes} min)`);
    const plan = await reapIdle({ reaper, nodeGroups: noNodeGroups, publisher: bus, managedNodeGroups: [], idleMs: o.idleMinutes * 60_000, now: () => now });
    for (const c of plan.suspend) out(`  ${green('⏾')} suspend ${c.name} ${dim('(locally recorded; on EKS: RayCluster spec.suspend=true)')}`);
    for (const c of plan.delete) out(`  ${green('✖')} delete ${c.name}`);
    for (const k of plan.kept) out(`  ${dim('·')} keep ${k.name}: ${k.reason}`);
    const events = bus.log.filter((l) => l.event.source === 'sentinel.reaper');
    out(`  events published: ${events.length ? events.map((e) => e.event['detail-type']).join(', ') : 'none'}`);
    return 0;
  });
}
