// What KubeRay reports, in core's terms (core/kuberay/status.ts), and the operator's acceptance rules ported in
// core/kuberay/validate.ts: which states end a stage and how, what is serving, which manifests KubeRay would park.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatusFromRayJob, serveStatusFromRayService, type RayJobObject, type RayJobStatusFields, type RayServiceObject, type RayServiceStatusFields } from '../../core/kuberay/status.js';
import { stageOutcome } from '../../core/job-status.js';
import {
  clusterSpecProblems,
  isDns1035Label,
  isDns1123Label,
  isLabelValue,
  isQualifiedName,
  rayJobProblems,
  rayServiceProblems,
  MAX_RAY_CLUSTER_NAME,
  MAX_RAY_JOB_NAME,
  MAX_RAY_SERVICE_NAME,
} from '../../core/kuberay/validate.js';

const rayJob = (status: RayJobStatusFields | undefined, meta: Partial<RayJobObject['metadata']> = {}): RayJobObject => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayJob',
  metadata: { name: 'churn-r0a1b2c3d4-train-1', labels: { 'sentinel.dev/stage': 'train' }, ...meta },
  ...(status ? { status } : {}),
});
const state = (s: RayJobStatusFields, meta: Partial<RayJobObject['metadata']> = {}) => jobStatusFromRayJob(rayJob(s, meta)).state;

test('a RayJob ends a stage only in a terminal deployment status', () => {
  assert.equal(state({ jobDeploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' }), 'SUCCEEDED');
  assert.equal(state({ jobDeploymentStatus: 'Complete', jobStatus: 'FAILED' }), 'FAILED');
  assert.equal(state({ jobDeploymentStatus: 'Complete', jobStatus: 'STOPPED' }), 'STOPPED');
  assert.equal(state({ jobDeploymentStatus: 'Complete', jobStatus: 'RUNNING' }), 'FAILED', 'complete without a Ray verdict');
  assert.equal(state({ jobDeploymentStatus: 'Complete' }), 'FAILED');
  assert.equal(state({ jobDeploymentStatus: 'Failed', jobStatus: 'FAILED' }), 'FAILED');
  assert.equal(state({ jobDeploymentStatus: 'Failed' }), 'FAILED');
  assert.equal(state({ jobDeploymentStatus: 'Failed', jobStatus: 'STOPPED' }), 'STOPPED');
  assert.equal(state({ jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded' }), 'STOPPED');
  assert.equal(state({ jobDeploymentStatus: 'Failed', reason: 'PreRunningDeadlineExceeded' }), 'STOPPED');
  assert.equal(state({ jobDeploymentStatus: 'Failed', reason: 'AppFailed' }), 'FAILED');
  // Running with Ray already done: KubeRay has not concluded, neither do we.
  for (const job of ['RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED']) assert.equal(state({ jobDeploymentStatus: 'Running', jobStatus: job }), 'RUNNING', job);
  assert.equal(state({ jobDeploymentStatus: 'Running', jobStatus: 'PENDING' }), 'PENDING');
  assert.equal(state({ jobDeploymentStatus: 'Running' }), 'PENDING');
  for (const d of ['New', 'Initializing', 'Waiting', 'Suspending', 'Suspended', 'Retrying', undefined]) assert.equal(state({ jobDeploymentStatus: d, jobStatus: 'SUCCEEDED' }), 'PENDING', String(d));
  assert.equal(jobStatusFromRayJob(rayJob(undefined)).state, 'PENDING', 'no status yet');
});

test('a RayJob the operator refused fails the stage as ValidationFailed, with its message', () => {
  const s = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'ValidationFailed', message: 'bad worker group' }));
  assert.equal(s.state, 'FAILED');
  const o = stageOutcome(s);
  assert.deepEqual(o.kind === 'failed' && [o.error, o.cause], ['ValidationFailed', 'bad worker group']);
  const bare = stageOutcome(jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'ValidationFailed' })));
  assert.equal(bare.kind === 'failed' && bare.error, 'ValidationFailed');
});

test('a RayJob being deleted before it finished reads as STOPPED, reason Deleted; a finished one keeps its state', () => {
  const deleting = { deletionTimestamp: '2024-06-01T00:00:00Z' };
  const s = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Running', jobStatus: 'RUNNING' }, deleting));
  assert.equal(s.state, 'STOPPED');
  assert.equal(s.reason, 'Deleted');
  assert.ok(s.message, 'it says why');
  const withMessage = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Initializing', message: 'pulling image' }, deleting));
  assert.deepEqual([withMessage.state, withMessage.message], ['STOPPED', 'pulling image']);
  const done = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Complete', jobStatus: 'SUCCEEDED' }, deleting));
  assert.deepEqual([done.state, done.reason], ['SUCCEEDED', undefined]);
  const failed = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Failed', jobStatus: 'FAILED' }, deleting));
  assert.deepEqual([failed.state, failed.reason], ['FAILED', undefined]);
  const own = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded' }, deleting));
  assert.deepEqual([own.state, own.reason], ['STOPPED', 'DeadlineExceeded']);
});

test('the JobStatus carries name, labels, reason, message, times in epoch ms, and the interruption mark', () => {
  const s = jobStatusFromRayJob(
    rayJob(
      { jobDeploymentStatus: 'Failed', jobStatus: 'FAILED', reason: 'AppFailed', message: 'exit 1', startTime: '2024-06-01T00:00:00Z', endTime: '2024-06-01T00:01:30Z' },
      { annotations: { 'sentinel.dev/interrupted': 'true' } },
    ),
  );
  assert.deepEqual(s, {
    jobId: 'churn-r0a1b2c3d4-train-1',
    state: 'FAILED',
    labels: { 'sentinel.dev/stage': 'train' },
    reason: 'AppFailed',
    message: 'exit 1',
    startTime: Date.parse('2024-06-01T00:00:00Z'),
    endTime: Date.parse('2024-06-01T00:01:30Z'),
    interrupted: true,
  });
  const o = stageOutcome(s);
  assert.equal(o.kind === 'failed' && o.error, 'SpotInterrupted');
  // Absent or unparsable fields stay absent; an annotation other than "true" is no mark; no labels is {}.
  const bare = jobStatusFromRayJob(rayJob({ jobDeploymentStatus: 'Running', jobStatus: 'RUNNING', startTime: 'soon' }, { labels: undefined, annotations: { 'sentinel.dev/interrupted': 'false' } }));
  assert.deepEqual(bare, { jobId: 'churn-r0a1b2c3d4-train-1', state: 'RUNNING', labels: {} });
});

const service = (status: RayServiceStatusFields | undefined): RayServiceObject => ({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: 'churn' }, ...(status ? { status } : {}) });
const ready = (status: 'True' | 'False', reason?: string, message?: string) => ({ type: 'Ready', status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) });
const upgrading = { type: 'UpgradeInProgress', status: 'True' };
const apps = (status: string, message?: string) => ({ applicationStatuses: { churn: { status, ...(message ? { message } : {}) } } });

test('serving: no RayService is NOT_STARTED; the first deployment is DEPLOYING until it is active', () => {
  assert.deepEqual(serveStatusFromRayService(undefined, 'churn', 'r1'), { state: 'NOT_STARTED' });
  assert.deepEqual(serveStatusFromRayService(service(undefined), 'churn'), { state: 'DEPLOYING' });
  assert.deepEqual(serveStatusFromRayService(service({ pendingServiceStatus: apps('DEPLOYING', 'starting replicas') }), 'churn'), { state: 'DEPLOYING', message: 'starting replicas' });
  assert.deepEqual(serveStatusFromRayService(service({ pendingServiceStatus: apps('RUNNING') }), 'churn', 'r1'), { state: 'DEPLOYING' }, 'running on the pending cluster is not serving yet');
  assert.deepEqual(serveStatusFromRayService(service({ pendingServiceStatus: apps('DEPLOY_FAILED', 'import error') }), 'churn'), { state: 'DEPLOY_FAILED', message: 'import error' });
  assert.deepEqual(serveStatusFromRayService(service({ pendingServiceStatus: apps('WEIRD') }), 'churn'), { state: 'UNKNOWN' });
  // Another application's status is not ours.
  assert.deepEqual(serveStatusFromRayService(service({ activeServiceStatus: { applicationStatuses: { other: { status: 'RUNNING' } } } }), 'churn'), { state: 'DEPLOYING' });
});

test('serving: the active application says what serves, for the run on the active cluster', () => {
  assert.deepEqual(serveStatusFromRayService(service({ conditions: [ready('True')], activeServiceStatus: apps('RUNNING') }), 'churn', 'r1'), { state: 'RUNNING', runId: 'r1' });
  assert.deepEqual(serveStatusFromRayService(service({ activeServiceStatus: apps('RUNNING') }), 'churn'), { state: 'RUNNING' }, 'no Ready condition yet: Serve decides');
  for (const s of ['NOT_STARTED', 'DEPLOYING', 'DEPLOY_FAILED', 'UNHEALTHY', 'DELETING'] as const)
    assert.equal(serveStatusFromRayService(service({ activeServiceStatus: apps(s) }), 'churn').state, s);
  assert.equal(serveStatusFromRayService(service({ activeServiceStatus: apps('BROKEN') }), 'churn').state, 'UNKNOWN');
  assert.deepEqual(serveStatusFromRayService(service({ activeServiceStatus: apps('UNHEALTHY', 'replica died') }), 'churn', 'r1'), { state: 'UNHEALTHY', message: 'replica died', runId: 'r1' });
  assert.deepEqual(serveStatusFromRayService(service({ activeServiceStatus: apps('RUNNING', '') }), 'churn'), { state: 'RUNNING' }, 'an empty message is none');
  // Serve RUNNING but the service not Ready (no endpoints): still deploying for a client, with the condition's why.
  assert.deepEqual(serveStatusFromRayService(service({ conditions: [ready('False', 'NoEndpoints', 'no pods ready')], activeServiceStatus: apps('RUNNING') }), 'churn', 'r1'), {
    state: 'DEPLOYING',
    message: 'NoEndpoints: no pods ready',
    runId: 'r1',
  });
  assert.deepEqual(serveStatusFromRayService(service({ conditions: [ready('False')], activeServiceStatus: apps('RUNNING', 'fine') }), 'churn'), { state: 'DEPLOYING', message: 'fine' });
  assert.deepEqual(serveStatusFromRayService(service({ conditions: [ready('False', 'NoEndpoints')], activeServiceStatus: apps('UNHEALTHY', 'x') }), 'churn'), { state: 'UNHEALTHY', message: 'x' });
});

test('serving during an upgrade: the champion keeps serving; a failing new config is DEPLOY_FAILED; a refused spec too', () => {
  const s = serveStatusFromRayService(service({ conditions: [ready('True'), upgrading], activeServiceStatus: apps('RUNNING'), pendingServiceStatus: apps('DEPLOYING') }), 'churn', 'r1');
  assert.deepEqual([s.state, s.runId], ['RUNNING', 'r1']);
  assert.ok(s.message, 'it says an upgrade is under way');
  for (const pending of ['DEPLOY_FAILED', 'UNHEALTHY']) {
    const f = serveStatusFromRayService(service({ conditions: [ready('True'), upgrading], activeServiceStatus: apps('RUNNING'), pendingServiceStatus: apps(pending, 'boom') }), 'churn', 'r1');
    assert.deepEqual([f.state, f.runId], ['DEPLOY_FAILED', 'r1'], pending);
    assert.ok(f.message!.includes('boom'));
  }
  // The shape KubeRay v1.7 really writes during an upgrade: the active cluster's applicationStatuses emptied while
  // it still serves (Ready=True). The old run serves; the new run is pending, named from the pending cluster.
  const v17 = service({
    conditions: [ready('True'), upgrading],
    activeServiceStatus: { rayClusterName: 'churn-raycluster-old' },
    pendingServiceStatus: { rayClusterName: 'churn-raycluster-new', ...apps('DEPLOYING', 'starting replicas') },
  });
  const during = serveStatusFromRayService(v17, 'churn', 'r1', 'r2');
  assert.deepEqual([during.state, during.runId, during.pending], ['RUNNING', 'r1', { state: 'DEPLOYING', runId: 'r2', message: 'starting replicas' }]);
  assert.ok(during.message!.includes('r2'));
  const noPendingApp = serveStatusFromRayService(service({ conditions: [ready('True'), upgrading], activeServiceStatus: { rayClusterName: 'old' }, pendingServiceStatus: { rayClusterName: 'new' } }), 'churn', 'r1', 'r2');
  assert.deepEqual([noPendingApp.state, noPendingApp.runId, noPendingApp.pending?.state], ['RUNNING', 'r1', 'DEPLOYING']);
  // Not serving (Ready=False) with nothing active is still deploying, not RUNNING.
  const notReady = serveStatusFromRayService(service({ conditions: [ready('False', 'NoEndpoints'), upgrading], activeServiceStatus: { rayClusterName: 'old' } }), 'churn', 'r1', 'r2');
  assert.notEqual(notReady.state, 'RUNNING');
  // Without the upgrade condition, the pending cluster's failure is not reported as ours.
  const stale = serveStatusFromRayService(service({ conditions: [ready('True'), { type: 'UpgradeInProgress', status: 'False' }], activeServiceStatus: apps('RUNNING'), pendingServiceStatus: apps('DEPLOY_FAILED') }), 'churn', 'r1');
  assert.deepEqual(stale, { state: 'RUNNING', runId: 'r1' });
  const refused = serveStatusFromRayService(service({ conditions: [ready('False', 'ValidationFailed', 'bad spec')], activeServiceStatus: apps('RUNNING') }), 'churn', 'r1');
  assert.deepEqual([refused.state, refused.runId], ['DEPLOY_FAILED', 'r1']);
  assert.ok(refused.message!.includes('bad spec'));
  const otherFalse = serveStatusFromRayService(service({ conditions: [ready('False', 'Other', 'x')] }), 'churn');
  assert.equal(otherFalse.state, 'DEPLOYING');
});

// --- KubeRay's acceptance rules -------------------------------------------------------------------------------

// Plain data as a YAML file would hold it (the validators take loosely typed manifests).
type Loose = any;
const container = { containers: [{ name: 'c' }] };
const group = (extra: Record<string, unknown> = {}): Loose => ({ rayStartParams: {}, template: { spec: container }, ...extra });
const worker = (extra: Record<string, unknown> = {}): Loose => group({ groupName: 'workers', minReplicas: 1, maxReplicas: 1, replicas: 1, ...extra });
const okCluster = () => ({ headGroupSpec: group(), workerGroupSpecs: [worker()] });
const job = (spec: Record<string, unknown>, name = 'churn-r0a1b2c3d4-train-1', labels?: Record<string, string>) => ({ metadata: { name, ...(labels ? { labels } : {}) }, spec });
const okJob = (extra: Record<string, unknown> = {}) => job({ shutdownAfterJobFinishes: true, rayClusterSpec: okCluster(), submissionMode: 'HTTPMode', backoffLimit: 0, activeDeadlineSeconds: 60, ...extra });

test('names and labels: DNS-1035 and DNS-1123 labels, qualified label keys, label values', () => {
  assert.equal(isDns1035Label('a'), true);
  assert.equal(isDns1035Label('a-1'), true);
  for (const bad of ['1a', 'a-', 'A', '', 'a_b', 'a.b']) assert.equal(isDns1035Label(bad), false, bad);
  assert.equal(isDns1035Label('a'.repeat(63)), true);
  assert.equal(isDns1035Label('a'.repeat(64)), false);
  assert.equal(isDns1123Label('1a'), true);
  assert.equal(isDns1123Label('a'.repeat(63)), true);
  assert.equal(isDns1123Label('a'.repeat(64)), false);
  for (const bad of ['-a', 'a-', 'A', '']) assert.equal(isDns1123Label(bad), false, bad);
  for (const ok of ['', 'a', 'A.b-c_d', '1']) assert.equal(isLabelValue(ok), true, ok);
  for (const bad of ['-a', 'a-', 'a b', 'x'.repeat(64)]) assert.equal(isLabelValue(bad), false, bad);
  assert.equal(isLabelValue('x'.repeat(63)), true);
  for (const ok of ['app', 'app.kubernetes.io/managed-by', 'sentinel.dev/run', 'a/b', 'A_b.c']) assert.equal(isQualifiedName(ok), true, ok);
  for (const bad of ['', '/a', 'a/', 'a/b/c', 'Bad.Prefix/a', '-a', `${'p'.repeat(254)}/a`, `a/${'n'.repeat(64)}`, 'a b']) assert.equal(isQualifiedName(bad), false, bad);
  assert.equal(isQualifiedName(`${'p'.repeat(253)}/a`), true);
  assert.equal(isQualifiedName('n'.repeat(63)), true);
  assert.deepEqual([MAX_RAY_CLUSTER_NAME, MAX_RAY_JOB_NAME, MAX_RAY_SERVICE_NAME], [53, 47, 47]);
});

test('a RayJob KubeRay accepts has no problems; each rule it breaks is one problem', () => {
  assert.deepEqual(rayJobProblems(okJob()), []);
  assert.deepEqual(rayJobProblems(job({ clusterSelector: { 'ray.io/cluster': 'shared' }, submissionMode: 'HTTPMode' })), []);
  const broken: Array<[string, ReturnType<typeof job>]> = [
    ['name too long', job({ clusterSelector: { 'ray.io/cluster': 'c' } }, 'a'.repeat(48))],
    ['label key', job(okJob().spec, 'j', { 'bad key': 'v' })],
    ['label value', job(okJob().spec, 'j', { k: 'bad value' })],
    ['suspend without shutdown', okJob({ suspend: true, shutdownAfterJobFinishes: false })],
    ['negative ttl', okJob({ ttlSecondsAfterFinished: -1 })],
    ['ttl without shutdown', okJob({ shutdownAfterJobFinishes: false, ttlSecondsAfterFinished: 5 })],
    ['deletionStrategy', okJob({ deletionStrategy: {} })],
    ['no cluster', job({ shutdownAfterJobFinishes: true })],
    ['selector without ray.io/cluster', job({ clusterSelector: { team: 'a' } })],
    ['selector in SidecarMode', job({ clusterSelector: { 'ray.io/cluster': 'c' }, submissionMode: 'SidecarMode' })],
    ['selector with backoff', job({ clusterSelector: { 'ray.io/cluster': 'c' }, backoffLimit: 1 })],
    ['interactive with backoff', okJob({ submissionMode: 'InteractiveMode', backoffLimit: 1 })],
    ['sidecar with submitter template', okJob({ submissionMode: 'SidecarMode', submitterPodTemplate: {} })],
    ['sidecar with submitter config', okJob({ submissionMode: 'SidecarMode', submitterConfig: {} })],
    ['runtime env a list', okJob({ runtimeEnvYAML: '[1, 2]' })],
    ['runtime env a scalar', okJob({ runtimeEnvYAML: '3' })],
    ['runtime env not YAML', okJob({ runtimeEnvYAML: 'a: [' })],
    ['zero deadline', okJob({ activeDeadlineSeconds: 0 })],
    ['zero pre-running deadline', okJob({ preRunningDeadlineSeconds: 0 })],
    ['negative backoff', okJob({ backoffLimit: -1 })],
  ];
  for (const [why, m] of broken) assert.equal(rayJobProblems(m).length, 1, `${why}: ${JSON.stringify(rayJobProblems(m))}`);
  assert.equal(rayJobProblems(job({ clusterSelector: { 'ray.io/cluster': 'c' }, suspend: true, shutdownAfterJobFinishes: true })).length, 1, 'suspend in selector mode');
  // Names the operator derives from ours break with them: the RayCluster's, the head Service's.
  assert.equal(rayJobProblems(job(okJob().spec, 'a'.repeat(48))).length, 2, 'too long, and so is its RayCluster name');
  assert.equal(rayJobProblems(job(okJob().spec, '1job')).length, 2, 'not DNS-1035, and neither is its head Service name');
  // Allowed: a null runtime env, positive deadlines, zero ttl without shutdown, the maximum name.
  assert.deepEqual(rayJobProblems(okJob({ runtimeEnvYAML: '~', preRunningDeadlineSeconds: 1, ttlSecondsAfterFinished: 0 })), []);
  assert.deepEqual(rayJobProblems(job({ clusterSelector: { 'ray.io/cluster': 'c' }, ttlSecondsAfterFinished: 0 })), []);
  assert.deepEqual(rayJobProblems(job(okJob().spec, 'a'.repeat(47))), []);
  // In selector mode the operator derives no cluster name: only the head Service name (≤ 63) limits.
  assert.equal(rayJobProblems(job({ clusterSelector: { 'ray.io/cluster': 'c' } }, 'a'.repeat(47))).length, 0);
  assert.equal(rayJobProblems(job({ clusterSelector: { 'ray.io/cluster': 'c' } }, 'a'.repeat(55))).length, 2, 'too long, and its head Service name over 63');
  assert.equal(rayJobProblems({ metadata: { name: 'j' } }).length, 1, 'no spec: no cluster');
});

test('Ray cluster specs: each rule KubeRay checks on the groups is one problem', () => {
  assert.deepEqual(clusterSpecProblems(okCluster()), []);
  assert.deepEqual(clusterSpecProblems({ headGroupSpec: group() }), [], 'no workers is fine');
  assert.deepEqual(clusterSpecProblems({ enableInTreeAutoscaling: true, headGroupSpec: group(), workerGroupSpecs: [group({ groupName: 'w' })] }), [], 'autoscaling needs no bounds');
  assert.equal(clusterSpecProblems({}).length, 1);
  const broken: Array<[string, Parameters<typeof clusterSpecProblems>[0]]> = [
    ['resources twice', { headGroupSpec: group({ rayStartParams: { 'num-cpus': '1' }, resources: { cpu: '1' } }) }],
    ['gpus twice', { headGroupSpec: group({ rayStartParams: { 'num-gpus': '1' }, resources: { x: '1' } }) }],
    ['memory twice', { headGroupSpec: group({ rayStartParams: { memory: '1' }, resources: { x: '1' } }) }],
    ['custom resources twice', { headGroupSpec: group({ rayStartParams: { resources: '{}' }, resources: { x: '1' } }) }],
    ['labels param', { headGroupSpec: group({ rayStartParams: { labels: 'a=b' } }) }],
    ['group label', { headGroupSpec: group({ labels: { 'a b': 'c' } }) }],
    ['pod label', { headGroupSpec: group({ template: { metadata: { labels: { k: '-v' } }, spec: container } }) }],
    ['no container', { headGroupSpec: group({ template: { spec: { containers: [] } } }) }],
    ['no template', { headGroupSpec: { rayStartParams: {} } }],
    ['worker group name', { headGroupSpec: group(), workerGroupSpecs: [worker({ groupName: 'Workers' })] }],
    ['worker without name', { headGroupSpec: group(), workerGroupSpecs: [worker({ groupName: undefined })] }],
    ['no min', { headGroupSpec: group(), workerGroupSpecs: [worker({ minReplicas: undefined })] }],
    ['no max', { headGroupSpec: group(), workerGroupSpecs: [worker({ maxReplicas: undefined })] }],
    ['negative min', { headGroupSpec: group(), workerGroupSpecs: [worker({ minReplicas: -1, maxReplicas: 1 })] }],
    ['negative max', { enableInTreeAutoscaling: true, headGroupSpec: group(), workerGroupSpecs: [worker({ minReplicas: undefined, maxReplicas: -1 })] }],
    ['min > max', { headGroupSpec: group(), workerGroupSpecs: [worker({ minReplicas: 2, maxReplicas: 1 })] }],
    ['idle timeout', { headGroupSpec: group(), workerGroupSpecs: [worker({ idleTimeoutSeconds: 60 })] }],
    ['autoscaler v2 without autoscaling', { headGroupSpec: group({ template: { spec: { containers: [{ env: [{ name: 'RAY_enable_autoscaler_v2', value: '1' }] }] } } }) }],
    ['autoscaler v2 true', { headGroupSpec: group({ template: { spec: { containers: [{ env: [{ name: 'RAY_enable_autoscaler_v2', value: 'true' }] }] } } }) }],
    ['redis', { enableInTreeAutoscaling: true, headGroupSpec: group({ template: { spec: { containers: [{ env: [{ name: 'RAY_REDIS_ADDRESS', value: 'x' }] }] } } }) }],
  ];
  for (const [why, spec] of broken) assert.equal(clusterSpecProblems(spec).length, 1, `${why}: ${JSON.stringify(clusterSpecProblems(spec))}`);
  // Allowed: resources only in one place, min = max, autoscaler v2 off or on with autoscaling.
  assert.deepEqual(clusterSpecProblems({ headGroupSpec: group({ rayStartParams: { 'num-cpus': '0' } }), workerGroupSpecs: [worker({ resources: { cpu: '1' }, minReplicas: 0, maxReplicas: 0 })] }), []);
  assert.deepEqual(clusterSpecProblems({ headGroupSpec: group({ template: { spec: { containers: [{ env: [{ name: 'RAY_enable_autoscaler_v2', value: '0' }] }] } } }) }), []);
  assert.deepEqual(clusterSpecProblems({ enableInTreeAutoscaling: true, headGroupSpec: group({ template: { spec: { containers: [{ env: [{ name: 'RAY_enable_autoscaler_v2', value: '1' }] }] } } }) }), []);
  // A bad worker counts in a RayJob too.
  assert.equal(rayJobProblems(okJob({ rayClusterSpec: { headGroupSpec: group(), workerGroupSpecs: [worker({ groupName: '' })] } })).length, 1);
});

test('a RayService KubeRay accepts has no problems; each rule it breaks is one problem', () => {
  const svc = (spec: Record<string, unknown>, name = 'churn', labels?: Record<string, string>) => ({ metadata: { name, ...(labels ? { labels } : {}) }, spec });
  const ok = { rayClusterConfig: okCluster(), upgradeStrategy: { type: 'NewCluster' }, serveConfigV2: 'applications: []' };
  assert.deepEqual(rayServiceProblems(svc(ok)), []);
  for (const type of ['NewClusterWithIncrementalUpgrade', 'None']) assert.deepEqual(rayServiceProblems(svc({ ...ok, upgradeStrategy: { type } })), [], type);
  assert.deepEqual(rayServiceProblems(svc({ rayClusterConfig: okCluster(), upgradeStrategy: {}, rayClusterDeletionDelaySeconds: 0 })), []);
  assert.deepEqual(rayServiceProblems(svc(ok, 'a'.repeat(47))), []);
  const broken: Array<[string, ReturnType<typeof svc>]> = [
    ['name too long', svc(ok, 'a'.repeat(48))],
    ['label', svc(ok, 'churn', { 'a b': 'c' })],
    ['no cluster', svc({ serveConfigV2: 'a: 1' })],
    ['bad cluster', svc({ rayClusterConfig: { headGroupSpec: group({ rayStartParams: { labels: 'x' } }) } })],
    ['head service name', svc({ rayClusterConfig: { headGroupSpec: { ...group(), headService: { metadata: { name: 'x' } } } } })],
    ['upgrade strategy', svc({ ...ok, upgradeStrategy: { type: 'Rolling' } })],
    ['deletion delay', svc({ ...ok, rayClusterDeletionDelaySeconds: -1 })],
    ['serve config not YAML', svc({ ...ok, serveConfigV2: 'a: [' })],
  ];
  for (const [why, m] of broken) assert.equal(rayServiceProblems(m).length, 1, `${why}: ${JSON.stringify(rayServiceProblems(m))}`);
  assert.equal(rayServiceProblems({ metadata: { name: 'churn' } }).length, 1);
  assert.equal(rayServiceProblems(svc(ok, 'Churn')).length, 2, 'not DNS-1035, and neither are its Service names');
  assert.equal(rayServiceProblems(svc(ok, `${'a'.repeat(54)}`)).length, 2, 'too long, and its serve Service name over 63');
});
