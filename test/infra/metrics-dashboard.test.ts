// The control plane's metrics, from the handlers that emit them to the dashboard and alarms that read them. The real
// handlers run (local runtime, in-memory compute and serving) with the deployment's namespace and their EMF lines
// are collected; the stack is built under Pulumi's mocks; then every metric series the handlers emitted must be
// graphed on the dashboard (by name, namespace, dimension names and, where a deployment knows them, values), every
// metric of the vocabulary must have been emitted, and the alarms must watch what is emitted with sane thresholds.
// Both sides name metrics only through core/metrics.ts, and this checks the two meet.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { installMocks, settled, type Recorded } from './pulumi-mocks.js';
import { resourceNames, sentinelConfig } from '../../infra/config.js';
import { completionLatencyThreshold, rateSeconds, REPEATED_FAILURES } from '../../infra/alarms.js';
import { cloudWatchDimensions, METRIC_NAMES, METRICS, metricsNamespace, NAMESPACE_ENV, SERVICE, SERVICE_DIMENSION, type MetricName } from '../../core/metrics.js';
import { STAGES } from '../../core/stages.js';
import type { ClusterActivity, RayClusterInfo } from '../../core/ports.js';

const root = join(fileURLToPath(import.meta.url), '../../..');
const cfg = sentinelConfig('obs', {
  region: 'eu-west-1',
  pipelines: [
    { name: 'breast-cancer', specFile: 'pipelines/breast-cancer.yaml' },
    { name: 'iris', specFile: 'pipelines/iris.yaml' },
  ],
  watchEverySeconds: 120,
});
const names = resourceNames(cfg);
const NS = metricsNamespace(cfg.stage);

interface Emf {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [k: string]: unknown;
}
/** One emitted series: namespace, metric, dimension values (service included), unit. */
interface Series {
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
}

let recorded: Recorded[] = [];
const emitted: Series[] = [];
const collect = (line: string) => {
  const emf = JSON.parse(line) as Emf;
  for (const d of emf._aws.CloudWatchMetrics) {
    for (const m of d.Metrics) emitted.push({ namespace: d.Namespace, name: m.Name, unit: m.Unit, dimensions: Object.fromEntries(d.Dimensions[0]!.map((k) => [k, String(emf[k])])) });
  }
};

before(async () => {
  // As infra/functions.ts configures a deployed function (checked below), and as Lambda starts an on-demand container.
  process.env[NAMESPACE_ENV] = NS;
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const { harness } = await import('../support/harness.js');
  const { FakeCompute, FakeServing } = await import('../support/fakes.js');
  const { useMetricsSink } = await import('../../functions/lib/metrics.js');
  const { lambdaContext } = await import('../../local/lambda-context.js');
  const { createReapIdleHandler } = await import('../../functions/reap-idle.js');
  const { createHandleInterruptionHandler } = await import('../../functions/handle-interruption.js');
  const { createPrepareRunHandler } = await import('../../functions/prepare-run.js');
  const { LocalObjectStore } = await import('../../local/object-store.js');
  const { ec2Event, sqsOf } = await import('../support/events.js');

  // A first invocation in a "new container": Powertools' ColdStart goes to stdout, where Lambda's log would take it.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string, ...rest: never[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"_aws"')) chunk.trim().split('\n').forEach(collect);
    else write(chunk, ...rest);
    return true;
  }) as typeof process.stdout.write;
  try {
    await createPrepareRunHandler({ store: new LocalObjectStore() })({ run: 'not a run' }, lambdaContext(names.function('prepare-run'))).catch(() => undefined);
  } finally {
    process.stdout.write = write;
  }

  // Runs on the local runtime: a promotion, a spot retry, compute briefly unavailable, a kept champion, a failure.
  const compute = new FakeCompute({ tune: [{ kind: 'interrupted' }, { kind: 'succeed' }], train: [{ kind: 'unavailable' }, { kind: 'succeed' }] });
  const h = harness(compute, new FakeServing(), { metricsSink: collect });
  try {
    await h.start('obs-1');
    (compute as unknown as { script: object }).script = { evaluate: [{ kind: 'succeed', metrics: { candidate_roc_auc: 0.9601, champion_roc_auc: 0.96 } }] };
    await h.start('obs-2');
    (compute as unknown as { script: object }).script = { train: [{ kind: 'fail', message: 'boom' }] };
    await h.start('obs-3');
    // The cluster-side handlers, with the same sink.
    const undo = useMetricsSink(collect);
    try {
      const c = (name: string, owner: RayClusterInfo['owner']): RayClusterInfo => ({ name, namespace: 'ml', suspended: false, owner, createdAt: 0 });
      await createReapIdleHandler({
        reaper: { listRayClusters: async () => [c('a', 'none'), c('b', 'rayjob')], clusterActivity: async (): Promise<ClusterActivity[]> => [], suspend: async () => undefined, delete: async () => undefined, rayPodsInNodeGroup: async () => 0 },
        nodeGroups: { desiredSize: async () => 1, scaleToZero: async () => undefined },
        publisher: { publish: async () => undefined },
        managedNodeGroups: ['spot'],
        idleMs: 1,
        now: () => new Date(3_600_000),
      })({}, lambdaContext('reap'));
      await createHandleInterruptionHandler({
        cluster: {
          nodeForInstance: async () => ({ name: 'node-1', providerID: 'aws:///eu-west-1a/i-0123456789abcdef0', unschedulable: false }),
          cordon: async () => undefined,
          rayPodsOn: async () => [{ namespace: 'ml', name: 'pod-1', rayCluster: 'rc' }],
          evict: async () => 'evicted' as const,
          jobsOn: async () => ['job-1'],
          markInterrupted: async () => undefined,
        },
        publisher: { publish: async () => undefined },
        nodeHandling: true,
      })(sqsOf(ec2Event('ec2-spot-instance-interruption-warning', 'i-0123456789abcdef0')), lambdaContext('spot'));
    } finally {
      undo();
    }
  } finally {
    await h.cleanup();
  }

  recorded = installMocks(cfg.region);
  const { sentinel } = await import('../../infra/index.js');
  await settled(sentinel({ config: cfg, root, code: () => new pulumi.asset.AssetArchive({}) }));
});

const ofType = (t: string) => recorded.filter((r) => r.type === t);
type Line = Array<string | Record<string, unknown>>;
const dashboard = () => JSON.parse(ofType('aws:cloudwatch/dashboard:Dashboard')[0]!.inputs.dashboardBody) as { widgets: Array<{ properties: { title: string; metrics: Line[]; annotations?: { horizontal: Array<{ value: number }> } } }> };
const lines = () => dashboard().widgets.flatMap((w) => w.properties.metrics);
/** A direct line as a series: [namespace, name, k1, v1, k2, v2, …, options?]. */
const asSeries = (l: Line) => {
  const strings = l.filter((x): x is string => typeof x === 'string');
  const dims: Record<string, string> = {};
  for (let i = 2; i + 1 < strings.length; i += 2) dims[strings[i]!] = strings[i + 1]!;
  return { namespace: strings[0]!, name: strings[1]!, dimensions: dims };
};
const searches = () => lines().flatMap((l) => l.filter((x) => typeof x === 'object').map((x) => (x as { expression?: string }).expression).filter((e): e is string => !!e));

test('the handlers emitted every metric of the vocabulary, in the deployment’s namespace, with the declared unit and dimensions', () => {
  assert.deepEqual([...new Set(emitted.map((s) => s.name))].sort(), [...METRIC_NAMES].sort());
  for (const s of emitted) {
    assert.equal(s.namespace, NS, s.name);
    assert.equal(s.unit, METRICS[s.name as MetricName].unit, s.name);
    assert.deepEqual(Object.keys(s.dimensions), cloudWatchDimensions(s.name as MetricName), s.name);
    assert.equal(s.dimensions[SERVICE_DIMENSION], SERVICE);
  }
});

test('every emitted series is on the dashboard: a graphed line with the same dimensions, or a SEARCH over them', () => {
  const direct = lines().map(asSeries).filter((s) => s.namespace === NS);
  const search = searches();
  for (const s of emitted) {
    const graphed = direct.some((d) => d.name === s.name && JSON.stringify(d.dimensions) === JSON.stringify(s.dimensions));
    const schema = `{${[NS, ...Object.keys(s.dimensions)].join(',')}} MetricName="${s.name}"`;
    assert.ok(graphed || search.some((e) => e.includes(schema)), `${s.name} ${JSON.stringify(s.dimensions)} is not on the dashboard`);
  }
});

test('the dashboard graphs each metric for every configured pipeline and stage, and only metrics of the vocabulary', () => {
  const direct = lines().map(asSeries).filter((s) => s.namespace === NS);
  for (const d of direct) {
    assert.ok((METRIC_NAMES as string[]).includes(d.name), `the dashboard names ${d.name}, which no handler emits`);
    assert.deepEqual(Object.keys(d.dimensions), cloudWatchDimensions(d.name as MetricName), d.name);
  }
  for (const p of cfg.pipelines) {
    for (const m of ['RunDuration', 'RunsSucceeded', 'RunsFailed', 'Promotions', 'ChampionsKept', 'CompletionLatency']) assert.ok(direct.some((d) => d.name === m && d.dimensions.Pipeline === p.name), `${m} for ${p.name}`);
    for (const stage of STAGES) for (const m of ['StageDuration', 'StageAttempts']) assert.ok(direct.some((d) => d.name === m && d.dimensions.Pipeline === p.name && d.dimensions.Stage === stage), `${m} for ${p.name}/${stage}`);
  }
  const fns = ofType('aws:lambda/function:Function').map((f) => f.inputs.name as string);
  for (const f of fns) assert.ok(direct.some((d) => d.name === 'ColdStart' && d.dimensions.function_name === f), `ColdStart of ${f}`);
  for (const m of METRIC_NAMES) assert.ok(direct.some((d) => d.name === m) || searches().some((e) => e.includes(`MetricName="${m}"`)), `no widget for ${m}`);
});

test('every deployed function emits into that namespace, with tracing on and the grants X-Ray needs', () => {
  const fns = ofType('aws:lambda/function:Function');
  assert.equal(fns.length, 12);
  for (const f of fns) {
    assert.equal(f.inputs.environment.variables[NAMESPACE_ENV], NS, f.inputs.name);
    assert.equal(f.inputs.environment.variables.POWERTOOLS_SERVICE_NAME, SERVICE);
    assert.deepEqual(f.inputs.tracingConfig, { mode: 'Active' });
    const policy = ofType('aws:iam/rolePolicy:RolePolicy').find((p) => p.inputs.role === f.inputs.role.replace(/^arn:aws:iam::\d+:role\//, ''));
    assert.ok(policy, `policy of ${f.inputs.name}`);
    const actions = (JSON.parse(policy.inputs.policy) as { Statement: Array<{ Action: string[] }> }).Statement.flatMap((s) => s.Action);
    for (const a of ['xray:PutTraceSegments', 'xray:PutTelemetryRecords']) assert.ok(actions.includes(a), `${f.inputs.name}: ${a}`);
  }
});

test('alarms on the emitted metrics: repeated failed runs and late completions per pipeline, with sane thresholds; DLQ alarms stay', () => {
  const alarms = ofType('aws:cloudwatch/metricAlarm:MetricAlarm');
  const topic = ofType('aws:sns/topic:Topic')[0]!;
  const ours = alarms.filter((a) => a.inputs.namespace === NS);
  assert.equal(ours.length, 2 * cfg.pipelines.length);
  for (const p of cfg.pipelines) {
    const failed = ours.find((a) => a.inputs.metricName === 'RunsFailed' && a.inputs.dimensions.Pipeline === p.name);
    assert.ok(failed, `runs-failed alarm of ${p.name}`);
    assert.deepEqual(failed.inputs.dimensions, { [SERVICE_DIMENSION]: SERVICE, Pipeline: p.name }, 'the dimensions the handlers emit');
    assert.deepEqual([failed.inputs.statistic, failed.inputs.period, failed.inputs.threshold, failed.inputs.comparisonOperator], ['Sum', REPEATED_FAILURES.periodSeconds, REPEATED_FAILURES.runs, 'GreaterThanOrEqualToThreshold']);
    assert.ok(REPEATED_FAILURES.runs >= 2 && REPEATED_FAILURES.periodSeconds <= 86_400, 'a failure or two a day, not every failure (ExecutionsFailed alarms on each)');

    const late = ours.find((a) => a.inputs.metricName === 'CompletionLatency' && a.inputs.dimensions.Pipeline === p.name);
    assert.ok(late, `completion-latency alarm of ${p.name}`);
    assert.deepEqual(late.inputs.dimensions, { [SERVICE_DIMENSION]: SERVICE, Pipeline: p.name });
    assert.deepEqual([late.inputs.statistic, late.inputs.threshold, late.inputs.comparisonOperator], ['Maximum', 600, 'GreaterThanThreshold'], 'five watcher ticks of 2 minutes');
    for (const a of [failed, late]) {
      assert.equal(a.inputs.treatMissingData, 'notBreaching', 'no runs is no alarm');
      assert.deepEqual(a.inputs.alarmActions, [topic.state.arn]);
    }
  }
  // The latency alarm's threshold is drawn on its graph.
  const latencyWidget = dashboard().widgets.find((w) => w.properties.title.startsWith('Completion latency'))!;
  assert.deepEqual(latencyWidget.properties.annotations!.horizontal.map((h) => h.value), [600]);
  // DLQ depth: one alarm per dead-letter queue, on the first message.
  const dlq = alarms.filter((a) => a.inputs.namespace === 'AWS/SQS');
  assert.deepEqual(dlq.map((a) => a.inputs.dimensions.QueueName).sort(), [names.dlq(names.completionQueue), names.dlq(names.interruptionQueue), names.undeliveredQueue].sort());
  assert.ok(dlq.every((a) => a.inputs.threshold === 0 && a.inputs.comparisonOperator === 'GreaterThanThreshold'));
});

test('completion latency threshold: five watcher ticks, at least five minutes', () => {
  assert.deepEqual(['rate(1 minute)', 'rate(5 minutes)', 'rate(1 hour)', 'cron(0/5 * * * ? *)'].map(rateSeconds), [60, 300, 3600, undefined]);
  assert.equal(completionLatencyThreshold({ watchEverySeconds: 60 }), 300);
  assert.equal(completionLatencyThreshold({ watchEverySeconds: 300 }), 1500);
  assert.equal(completionLatencyThreshold({ watchEverySeconds: 30 }), 300);
});
