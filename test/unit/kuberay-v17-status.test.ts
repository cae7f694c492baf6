// KubeRay v1.7's statuses, as its controllers write them, mapped by Sentinel's pure functions: RayJob status →
// JobStatus (core/kuberay/status.ts) → stage outcome (core/job-status.ts); RayService status → ServeStatus → what a
// promotion waiting for a run sees (core/promotion-wait.ts). Each fixture is the whole status object the operator
// writes in that state, with the function of /work/shared/kuberay/operator/controllers/ray/ it comes from (and, where
// the Kubernetes suite reaches the state for real through the operator, the test that does:
// test/k8s/operator.test.ts, test/k8s/pipeline-on-operator.test.ts). Field names are the CRD's JSON names
// (apis/ray/v1/rayjob_types.go RayJobStatus, rayservice_types.go RayServiceStatuses).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatusFromRayJob, serveStatusFromRayService, type RayJobObject, type RayServiceObject } from '../../core/kuberay/status.js';
import { jobSeconds, stageOutcome, type StageOutcome } from '../../core/job-status.js';
import { promotionStatus } from '../../core/promotion-wait.js';
import { ANNOTATIONS } from '../../core/kuberay/meta.js';
import { jobStateChangeEvent } from '../../events/job-state-change.js';

const NAME = 'breast-cancer-r0a1b2c3d4-train-1';
const NS = 'sentinel';
// GenerateRayClusterName (utils/util.go): the RayJob's name and 5 random characters.
const CLUSTER = `${NAME}-x7k2p`;
const DASHBOARD = `${CLUSTER}-head-svc.${NS}.svc.cluster.local:8265`; // FetchHeadServiceURL: host:port, no scheme
const T0 = '2026-11-23T10:00:00Z'; // status.startTime: New → Initializing (initRayJobStatusIfNeed)
const T1 = '2026-11-23T10:02:30Z'; // status.endTime: the deployment status became terminal (updateRayJobStatus)
// rayJobInfo: Ray's own job times (GetJobInfo's start_time/end_time); Sentinel's job time is the operator's pair.
const rayInfo = (end = true) => ({ startTime: '2026-11-23T10:00:07Z', ...(end ? { endTime: '2026-11-23T10:02:29Z' } : {}) });
// status.rayClusterStatus: the RayCluster's own status, copied while the job waits for it and with every Ray check.
const clusterStatus = (state: 'ready' | '') =>
  state === 'ready'
    ? {
        state, availableWorkerReplicas: 1, desiredCPU: '2', desiredGPU: '0', desiredMemory: '2Gi', desiredTPU: '0', desiredWorkerReplicas: 1, maxWorkerReplicas: 1, minWorkerReplicas: 1, readyWorkerReplicas: 1, observedGeneration: 1,
        conditions: [{ type: 'HeadPodReady', status: 'True', reason: 'HeadPodRunningAndReady', message: '', lastTransitionTime: '2026-11-23T10:00:05Z' }],
        endpoints: { client: '10001', dashboard: '8265', 'gcs-server': '6379', metrics: '8080', serve: '8000' },
        head: { podIP: '10.244.0.8', podName: `${CLUSTER}-head-48n56`, serviceIP: '10.244.0.8', serviceName: `${CLUSTER}-head-svc` },
      }
    : { desiredCPU: '2', desiredGPU: '0', desiredMemory: '2Gi', desiredTPU: '0', desiredWorkerReplicas: 1, maxWorkerReplicas: 1, minWorkerReplicas: 1, head: {} };
// The counters' CRD defaults (+kubebuilder:default:=0) are in every stored status; RayJob status has no observedGeneration here.
const counts = (succeeded = 0, failed = 0) => ({ succeeded, failed });

const rayJob = (status: Record<string, unknown>, annotations?: Record<string, string>): RayJobObject => ({
  apiVersion: 'ray.io/v1',
  kind: 'RayJob',
  metadata: { name: NAME, namespace: NS, labels: { 'sentinel.dev/stage': 'train', 'sentinel.dev/run': 'r0a1b2c3d4' }, ...(annotations ? { annotations } : {}) },
  status,
});
const outcomeOf = (o: StageOutcome) => (o.kind === 'failed' ? o.error : o.kind);

describe('RayJob statuses v1.7 writes (rayjob_controller.go), mapped to a JobStatus and a stage outcome', () => {
  const cases: Array<{ name: string; from: string; status: Record<string, unknown>; annotations?: Record<string, string>; state: string; outcome: string; check?: (s: ReturnType<typeof jobStatusFromRayJob>) => void }> = [
    {
      name: 'initializing: the cluster is coming up',
      // initRayJobStatusIfNeed sets jobId, rayClusterName, jobStatus "" (JobStatusNew, omitted), startTime; the
      // Initializing case copies the not-yet-ready cluster's status while it waits.
      from: 'Reconcile, case JobDeploymentStatusInitializing (RayCluster not ready)',
      status: { jobId: NAME, rayClusterName: CLUSTER, jobDeploymentStatus: 'Initializing', startTime: T0, rayClusterStatus: clusterStatus(''), ...counts() },
      state: 'PENDING',
      outcome: 'running',
      check: (s) => assert.equal(s.startTime, Date.parse(T0)),
    },
    {
      name: 'submitted, Ray not reporting yet',
      // Initializing → Running once the cluster is ready and dashboardURL is known; jobStatus is still "" until the
      // next reconcile asks Ray (GetJobInfo).
      from: 'Reconcile, case JobDeploymentStatusInitializing (RayCluster ready)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobDeploymentStatus: 'Running', startTime: T0, rayClusterStatus: clusterStatus('ready'), ...counts() },
      state: 'PENDING',
      outcome: 'running',
    },
    {
      name: 'Ray PENDING (the driver is starting)',
      from: 'Reconcile, case JobDeploymentStatusRunning (jobInfo.JobStatus PENDING)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'PENDING', jobDeploymentStatus: 'Running', message: 'Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, custom resources) to become available.', startTime: T0, rayClusterStatus: clusterStatus('ready'), ...counts() },
      state: 'PENDING',
      outcome: 'running',
    },
    {
      name: 'running (reached for real: operator.test.ts, the interrupted job before the kill)',
      from: 'Reconcile, case JobDeploymentStatusRunning (jobInfo.JobStatus RUNNING)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'RUNNING', jobDeploymentStatus: 'Running', message: 'Job is currently running.', startTime: T0, rayJobInfo: rayInfo(false), rayClusterStatus: clusterStatus('ready'), ...counts() },
      state: 'RUNNING',
      outcome: 'running',
      check: (s) => assert.deepEqual([s.endTime, s.needsStop, jobSeconds(s)], [undefined, undefined, 0]),
    },
    {
      name: 'complete (reached: operator.test.ts, the first test; its times give the job time)',
      // jobStatus SUCCEEDED → Complete with reason ""; updateRayJobStatus stamps endTime and counts succeeded.
      from: 'Reconcile, case JobDeploymentStatusRunning (isJobTerminal) + updateRayJobStatus',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', message: 'Job finished successfully.', startTime: T0, endTime: T1, rayJobInfo: rayInfo(), rayClusterStatus: clusterStatus('ready'), ...counts(1, 0) },
      state: 'SUCCEEDED',
      outcome: 'succeeded',
      check: (s) => assert.equal(jobSeconds(s), 150),
    },
    {
      name: 'app failed (reached: operator.test.ts, the job with no such module)',
      // jobStatus FAILED → Failed, reason AppFailed, message = Ray's (the entrypoint's exit code and its log's tail).
      from: 'Reconcile, case JobDeploymentStatusRunning (jobInfo.JobStatus FAILED)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'FAILED', jobDeploymentStatus: 'Failed', reason: 'AppFailed', message: `Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\n2026-11-23 10:00:08,495\tINFO job_manager.py:581 -- Runtime env is setting up.\nRunning entrypoint for job ${NAME}: python -m sentinel_no_such_module\n/work/main/.venv/bin/python: No module named sentinel_no_such_module\n`, startTime: T0, endTime: T1, rayJobInfo: rayInfo(), rayClusterStatus: clusterStatus('ready'), ...counts(0, 1) },
      state: 'FAILED',
      outcome: 'RayJobFailed',
      check: (s) => assert.equal(s.reason, 'AppFailed'),
    },
    {
      name: 'a stage that refused its input (reached: pipeline-on-operator.test.ts, ingest on a bad CSV)',
      // The same AppFailed shape: the job's "ValidationFailed: …" line (docs/stage-contract.md) is in Ray's message.
      from: 'Reconcile, case JobDeploymentStatusRunning (jobInfo.JobStatus FAILED)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'FAILED', jobDeploymentStatus: 'Failed', reason: 'AppFailed', message: `Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\n2026-11-23 10:00:08,264\tINFO job_manager.py:581 -- Runtime env is setting up.\nRunning entrypoint for job ${NAME}: python -m sentinel_jobs.ingest\nValidationFailed: column 'mean_radius' is not numeric: 'oops' on line 2\n`, startTime: T0, endTime: T1, rayJobInfo: rayInfo(), rayClusterStatus: clusterStatus('ready'), ...counts(0, 1) },
      state: 'FAILED',
      outcome: 'ValidationFailed',
      check: (s) => {
        const o = stageOutcome(s);
        assert.equal(o.kind === 'failed' && o.cause, "column 'mean_radius' is not numeric: 'oops' on line 2");
      },
    },
    {
      name: 'activeDeadlineSeconds passed while running (reached: operator.test.ts)',
      // Only the status changes: jobStatus stays RUNNING and the Ray job runs on, so Sentinel must delete the RayJob.
      from: 'checkActiveDeadlineAndUpdateStatusIfNeeded',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'RUNNING', jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded', message: 'The RayJob has passed the activeDeadlineSeconds. StartTime: 2026-11-23 10:00:00 +0000 UTC. ActiveDeadlineSeconds: 12', startTime: T0, endTime: T1, rayJobInfo: rayInfo(false), rayClusterStatus: clusterStatus('ready'), ...counts(0, 1) },
      state: 'STOPPED',
      outcome: 'RayJobStopped',
      check: (s) => assert.deepEqual([s.reason, s.needsStop], ['DeadlineExceeded', true]),
    },
    {
      name: 'activeDeadlineSeconds passed before the cluster was ready',
      // Checked in the Initializing case too: no jobStatus yet, nothing was submitted (nothing to stop in Ray, but
      // the RayJob is still deleted: needsStop).
      from: 'checkActiveDeadlineAndUpdateStatusIfNeeded (case JobDeploymentStatusInitializing)',
      status: { jobId: NAME, rayClusterName: CLUSTER, jobDeploymentStatus: 'Failed', reason: 'DeadlineExceeded', message: 'The RayJob has passed the activeDeadlineSeconds. StartTime: 2026-11-23 10:00:00 +0000 UTC. ActiveDeadlineSeconds: 12', startTime: T0, endTime: T1, rayClusterStatus: clusterStatus(''), ...counts(0, 1) },
      state: 'STOPPED',
      outcome: 'RayJobStopped',
      check: (s) => assert.equal(s.needsStop, true),
    },
    {
      name: 'preRunningDeadlineSeconds passed',
      from: 'checkPreRunningDeadlineAndUpdateStatusIfNeeded',
      status: { jobId: NAME, rayClusterName: CLUSTER, jobDeploymentStatus: 'Failed', reason: 'PreRunningDeadlineExceeded', message: 'The RayJob has passed the preRunningDeadlineSeconds. StartTime: 2026-11-23 10:00:00 +0000 UTC. PreRunningDeadlineSeconds: 30', startTime: T0, endTime: T1, ...counts(0, 1) },
      state: 'STOPPED',
      outcome: 'RayJobStopped',
    },
    {
      name: 'the operator refused the spec (reached: operator.test.ts, a runtime env that is not YAML)',
      // validateRayJob failed: deployment status, reason and message (the job never got past New), beside the CRD's
      // defaults.
      from: 'Reconcile, validateRayJob error',
      status: { jobDeploymentStatus: 'ValidationFailed', reason: 'ValidationFailed', message: 'failed to unmarshal RuntimeEnvYAML: env_vars: [: error converting YAML to JSON: yaml: line 1: did not find expected node content', rayClusterStatus: { desiredCPU: '0', desiredGPU: '0', desiredMemory: '0', desiredTPU: '0', head: {} }, rayJobInfo: {}, ...counts() },
      state: 'FAILED',
      outcome: 'ValidationFailed',
      check: (s) => {
        const o = stageOutcome(s);
        assert.ok(o.kind === 'failed' && o.cause.includes('RuntimeEnvYAML'), JSON.stringify(o));
      },
    },
    {
      name: 'queued by Kueue (reached: operator.test.ts, a job created with suspend: true)',
      // Initializing → Suspending (updateStatusToSuspendingIfNeeded) → Suspended once the cluster is gone: jobStatus
      // reset to "" (omitted), cluster name, dashboard URL, job id, message, reason and rayJobInfo cleared; startTime kept.
      from: 'updateStatusToSuspendingIfNeeded + case JobDeploymentStatusSuspending',
      status: { jobDeploymentStatus: 'Suspended', startTime: T0, rayClusterStatus: { desiredCPU: '0', desiredGPU: '0', desiredMemory: '0', desiredTPU: '0', head: {} }, rayJobInfo: {}, ...counts() },
      state: 'PENDING',
      outcome: 'running',
    },
    {
      name: 'suspending (Kueue preempted it)',
      from: 'updateStatusToSuspendingIfNeeded (case JobDeploymentStatusRunning)',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'RUNNING', jobDeploymentStatus: 'Suspending', message: 'Job is currently running.', startTime: T0, rayClusterStatus: clusterStatus('ready'), ...counts() },
      state: 'PENDING',
      outcome: 'running',
    },
    {
      name: 'interrupted: the spot handler\'s mark, then the node\'s loss fails the job (reached: operator.test.ts)',
      // A killed driver: Ray reports FAILED, the operator Failed/AppFailed; the annotation is Sentinel's.
      from: 'Reconcile, case JobDeploymentStatusRunning (jobInfo.JobStatus FAILED)',
      annotations: { [ANNOTATIONS.interrupted]: 'true', [`${ANNOTATIONS.interrupted}-reason`]: 'spot interruption warning for i-0123456789abcdef0' },
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'FAILED', jobDeploymentStatus: 'Failed', reason: 'AppFailed', message: `Job entrypoint command failed with exit code 137, last available logs (truncated to 20,000 chars):\n2026-11-23 10:00:08,188\tINFO job_manager.py:581 -- Runtime env is setting up.\nRunning entrypoint for job ${NAME}: python -m stage_sleeper\nSENTINEL-STAGE-SLEEPER pid=12925\nKilled\n`, startTime: T0, endTime: T1, rayJobInfo: rayInfo(), rayClusterStatus: clusterStatus('ready'), ...counts(0, 1) },
      state: 'FAILED',
      outcome: 'SpotInterrupted',
      check: (s) => assert.equal(s.interrupted, true),
    },
    {
      name: 'Ray done, the operator\'s grace period ran out before it concluded',
      from: 'checkTransitionGracePeriodAndUpdateStatusIfNeeded',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'SUCCEEDED', jobDeploymentStatus: 'Complete', reason: 'JobDeploymentStatusTransitionGracePeriodExceeded', message: 'JobDeploymentStatus does not transition to Complete or Failed within the grace period after JobStatus reaches a terminal state.', startTime: T0, endTime: T1, rayJobInfo: rayInfo(), ...counts(1, 0) },
      state: 'SUCCEEDED',
      outcome: 'succeeded',
    },
    {
      name: 'the dashboard unreachable for too long',
      // jobStatus stays what it last was; the cluster is torn down with the job (shutdownAfterJobFinishes).
      from: 'checkJobStatusCheckTimeoutAndUpdateStatusIfNeeded',
      status: { jobId: NAME, rayClusterName: CLUSTER, dashboardURL: DASHBOARD, jobStatus: 'RUNNING', jobDeploymentStatus: 'Failed', reason: 'JobStatusCheckTimeoutExceeded', message: 'Job status checks have been failing since 2026-11-23 10:01:00 +0000 UTC; exceeded timeout of 900s', startTime: T0, endTime: T1, ...counts(0, 1) },
      state: 'FAILED',
      outcome: 'RayJobFailed',
      check: (s) => assert.equal(s.reason, 'JobStatusCheckTimeoutExceeded'),
    },
  ];
  for (const c of cases) {
    test(`${c.name} — ${c.from}`, () => {
      const s = jobStatusFromRayJob(rayJob(c.status, c.annotations));
      assert.equal(s.jobId, NAME);
      assert.equal(s.state, c.state);
      assert.equal(outcomeOf(stageOutcome(s)), c.outcome);
      assert.deepEqual(s.labels, { 'sentinel.dev/stage': 'train', 'sentinel.dev/run': 'r0a1b2c3d4' });
      // What the watcher publishes for it: the stage and state, named from the RayJob.
      const event = jobStateChangeEvent('kuberay', s, 's3://b/artifacts', new Date(T1));
      assert.deepEqual([event?.detail.stage, event?.detail.state, event?.detail.reason], ['train', c.state, s.reason]);
      c.check?.(s);
    });
  }
});

// --- RayService ------------------------------------------------------------------------------------------------

const APP = 'breast-cancer';
const ACTIVE = `${APP}-a1b2c`; // GenerateRayClusterName(rayService.Name)
const PENDING = `${APP}-d3e4f`;
const RUN_OLD = 'r0000000a1';
const RUN_NEW = 'r0000000b2';
// setCondition: metav1.Condition with the status's observedGeneration; the time is meta.SetStatusCondition's.
const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string) => ({ type, status, reason, message, lastTransitionTime: '2026-11-23T10:00:00Z', observedGeneration: 2 });
const READY = cond('Ready', 'True', 'NonZeroServeEndpoints', 'Number of serve endpoints is greater than 0');
const NO_PENDING = cond('UpgradeInProgress', 'False', 'NoPendingCluster', 'Active Ray cluster exists and no pending Ray cluster');
const BOTH = cond('UpgradeInProgress', 'True', 'BothActivePendingClustersExist', 'Both active and pending Ray clusters exist');
// getAndCheckServeStatus: Serve's application status with its deployments' (serveDeploymentStatuses).
const apps = (status: string, message = '', deployment = status === 'RUNNING' ? 'HEALTHY' : 'UPDATING') => ({
  [APP]: { status, ...(message ? { message } : {}), serveDeploymentStatuses: { ModelServer: { status: deployment } } },
});
const rayService = (status: Record<string, unknown>): RayServiceObject => ({ apiVersion: 'ray.io/v1', kind: 'RayService', metadata: { name: APP, namespace: NS, generation: 2 }, status } as RayServiceObject);

describe('RayService statuses v1.7 writes (rayservice_controller.go) during a blue/green upgrade, mapped to ServeStatus and the promotion wait', () => {
  test('first deployment: initializing, then the pending cluster deploying, then serving (reached: pipeline-on-operator.test.ts)', () => {
    // calculateConditions with no conditions yet; shouldPrepareNewCluster names the first (pending) cluster.
    const initializing = rayService({
      conditions: [cond('Ready', 'False', 'Initializing', 'RayService is initializing'), cond('UpgradeInProgress', 'False', 'Initializing', 'RayService is initializing')],
      activeServiceStatus: { rayClusterStatus: {} },
      pendingServiceStatus: { rayClusterName: ACTIVE, rayClusterStatus: {} },
      observedGeneration: 1,
    });
    const s0 = serveStatusFromRayService(initializing, APP, undefined, RUN_OLD);
    assert.equal(s0.state, 'DEPLOYING');
    assert.equal(promotionStatus(s0, RUN_OLD).kind, 'pending');
    // reconcileServe on the pending cluster: its applications while Serve deploys them.
    const deploying = rayService({
      conditions: [cond('Ready', 'False', 'Initializing', 'RayService is initializing'), cond('UpgradeInProgress', 'False', 'Initializing', 'RayService is initializing')],
      activeServiceStatus: { rayClusterStatus: {} },
      pendingServiceStatus: { rayClusterName: ACTIVE, applicationStatuses: apps('DEPLOYING'), rayClusterStatus: clusterStatus('ready') },
      observedGeneration: 1,
    });
    assert.equal(serveStatusFromRayService(deploying, APP, undefined, RUN_OLD).state, 'DEPLOYING');
    // reconcilePromotionAndServingStatus: pending → active once the serve Service points at it; Ready from endpoints.
    const serving = rayService({
      conditions: [READY, NO_PENDING],
      serviceStatus: 'Running',
      numServeEndpoints: 1,
      activeServiceStatus: { rayClusterName: ACTIVE, applicationStatuses: apps('RUNNING'), rayClusterStatus: clusterStatus('ready') },
      pendingServiceStatus: { rayClusterStatus: {} },
      observedGeneration: 1,
    });
    const s2 = serveStatusFromRayService(serving, APP, RUN_OLD);
    assert.deepEqual(s2, { state: 'RUNNING', runId: RUN_OLD });
    assert.equal(promotionStatus(s2, RUN_OLD).kind, 'serving');
  });

  test('a new config: the old run keeps serving while the new cluster comes up, then the switch (reached: pipeline-on-operator.test.ts)', () => {
    // The spec's cluster hash changed (a new run on the head template): shouldPrepareNewCluster names a pending
    // cluster; the active cluster's applications are not reconciled during the upgrade, so v1.7 leaves them empty.
    const upgrading = rayService({
      conditions: [READY, BOTH],
      serviceStatus: 'Running',
      numServeEndpoints: 1,
      activeServiceStatus: { rayClusterName: ACTIVE, rayClusterStatus: clusterStatus('ready') },
      pendingServiceStatus: { rayClusterName: PENDING, rayClusterStatus: {} },
      observedGeneration: 2,
    });
    const during = serveStatusFromRayService(upgrading, APP, RUN_OLD, RUN_NEW);
    assert.deepEqual([during.state, during.runId, during.pending], ['RUNNING', RUN_OLD, { state: 'DEPLOYING', runId: RUN_NEW }]);
    const wait = promotionStatus(during, RUN_NEW);
    assert.equal(wait.kind, 'pending');
    assert.ok(wait.detail.includes(RUN_OLD) && wait.detail.includes(RUN_NEW), wait.detail);
    // Before the pending RayCluster exists, its run is not known yet: still pending, still the old run serving.
    const early = serveStatusFromRayService(upgrading, APP, RUN_OLD, undefined);
    assert.deepEqual([early.state, early.runId, promotionStatus(early, RUN_NEW).kind], ['RUNNING', RUN_OLD, 'pending']);
    // The pending cluster's Serve deploying the new config.
    const deploying = rayService({ ...upgrading.status, pendingServiceStatus: { rayClusterName: PENDING, applicationStatuses: apps('DEPLOYING'), rayClusterStatus: clusterStatus('ready') } });
    const d = serveStatusFromRayService(deploying, APP, RUN_OLD, RUN_NEW);
    assert.deepEqual([d.state, d.runId, d.pending?.state, promotionStatus(d, RUN_NEW).kind], ['RUNNING', RUN_OLD, 'DEPLOYING', 'pending']);
    // Switched: the pending status became the active one (reconcilePromotionAndServingStatus), no pending cluster.
    const switched = rayService({
      conditions: [READY, NO_PENDING],
      serviceStatus: 'Running',
      numServeEndpoints: 1,
      activeServiceStatus: { rayClusterName: PENDING, applicationStatuses: apps('RUNNING'), rayClusterStatus: clusterStatus('ready') },
      pendingServiceStatus: { rayClusterStatus: {} },
      observedGeneration: 2,
    });
    const after = serveStatusFromRayService(switched, APP, RUN_NEW);
    assert.deepEqual(after, { state: 'RUNNING', runId: RUN_NEW });
    assert.equal(promotionStatus(after, RUN_NEW).kind, 'serving');
  });

  test('the new config fails on the pending cluster while the old run keeps serving: DEPLOY_FAILED, the old run named', () => {
    // Not reachable in the Kubernetes suite: every RayCluster there is one shared Ray head behind the proxy, so the
    // pending cluster's Serve *is* the active one's. The operator's first read of the pending cluster sees the old
    // application RUNNING (reconcileServe reads the status before it PUTs the new config) and switches at once; a
    // failing config would then fail the one Serve that answers, and there is no "old keeps serving" left to observe.
    // On a real cluster the pending head has its own Serve: this is what v1.7 writes there.
    const failing = rayService({
      conditions: [READY, BOTH],
      serviceStatus: 'Running',
      numServeEndpoints: 1,
      activeServiceStatus: { rayClusterName: ACTIVE, rayClusterStatus: clusterStatus('ready') },
      pendingServiceStatus: {
        rayClusterName: PENDING,
        applicationStatuses: { [APP]: { status: 'DEPLOY_FAILED', message: "Deploying app 'breast-cancer' failed with exception:\nFileNotFoundError: model.json", serveDeploymentStatuses: {} } },
        rayClusterStatus: clusterStatus('ready'),
      },
      observedGeneration: 2,
    });
    const s = serveStatusFromRayService(failing, APP, RUN_OLD, RUN_NEW);
    assert.equal(s.state, 'DEPLOY_FAILED');
    assert.equal(s.runId, RUN_OLD, 'the champion keeps serving');
    assert.ok(s.message?.includes('FileNotFoundError'), s.message);
    assert.equal(promotionStatus(s, RUN_NEW).kind, 'failed');
  });

  test('the RayService refused, or its endpoints gone: not serving', () => {
    // validateRayService failed: only the Ready condition is set.
    const refused = rayService({ conditions: [cond('Ready', 'False', 'ValidationFailed', 'spec.rayClusterConfig.headGroupSpec.headService.metadata.name should not be set')] });
    const r = serveStatusFromRayService(refused, APP);
    assert.equal(r.state, 'DEPLOY_FAILED');
    assert.ok(r.message?.includes('headService'), r.message);
    assert.equal(promotionStatus(r, RUN_NEW).kind, 'failed');
    // calculateConditions: the serve endpoints dropped to 0 (the active cluster's pods gone): Serve's RUNNING is not
    // reachable, so Sentinel says DEPLOYING, and a wait for this run keeps waiting.
    const dropped = rayService({
      conditions: [cond('Ready', 'False', 'ZeroServeEndpoints', 'Number of serve endpoints dropped to 0'), NO_PENDING],
      activeServiceStatus: { rayClusterName: ACTIVE, applicationStatuses: apps('RUNNING'), rayClusterStatus: clusterStatus('ready') },
      pendingServiceStatus: { rayClusterStatus: {} },
      observedGeneration: 2,
    });
    const d = serveStatusFromRayService(dropped, APP, RUN_OLD);
    assert.deepEqual([d.state, d.runId], ['DEPLOYING', RUN_OLD]);
    assert.ok(d.message?.includes('ZeroServeEndpoints'), d.message);
    assert.equal(promotionStatus(d, RUN_OLD).kind, 'pending');
  });
});
