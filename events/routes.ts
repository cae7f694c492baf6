// Where events go: every EventBridge rule and schedule of a deployment, as data. infra/ turns each route into a rule
// (or scheduler schedule) with its target; the local runtime turns them into routes on its bus. One table, so a
// rule cannot exist in one place and not the other.
import { datasetUploadedPattern, instanceStateChangePattern, jobCompletedPattern, spotInterruptionPattern, type EventPattern } from './patterns.js';
import { executionEndedPattern, stageFailureWrittenPattern, stageResultWrittenPattern } from './patterns.js';
import { runEventsPattern } from './run-events.js';

/** Targets are logical: infra maps them to queues/functions, the local runtime to in-process queues/handlers. */
export type RouteTarget = 'completion-queue' | 'interruption-queue' | 'start-run' | 'notify' | 'execution-ended';
/**
 * Recurring schedules start runs only. The watcher and the reaper have no forever-rate: they run on one-time
 * schedules armed while there is work (core/arming.ts), so an idle deployment invokes nothing.
 */
export type ScheduleTarget = 'start-run';

export interface Route {
  name: string;
  description: string;
  pattern: EventPattern;
  target: RouteTarget;
}

export interface Schedule {
  name: string;
  description: string;
  /** EventBridge Scheduler expression: rate(…) or cron(…). */
  expression: string;
  target: ScheduleTarget;
  /** Input passed to the target, if any. */
  input?: Record<string, unknown>;
}

export interface RouteSettings {
  bucket: string;
  pipelines: Array<{ name: string; retrainSchedule?: string }>;
  /** The pipeline state machine's ARN: its executions that end early are cleaned up (execution-ended). */
  stateMachineArn?: string;
}

export function routesFor(s: RouteSettings): Route[] {
  const routes: Route[] = [
    { name: 'job-completed', description: 'Terminal Ray job states to the completion consumer', pattern: jobCompletedPattern, target: 'completion-queue' },
    { name: 'stage-result-written', description: 'A stage job\'s own write of its result.json to the completion consumer (pushed completion)', pattern: stageResultWrittenPattern(s.bucket), target: 'completion-queue' },
    { name: 'stage-failure-written', description: 'A failing stage job\'s own write of its failure.json to the completion consumer (pushed failure)', pattern: stageFailureWrittenPattern(s.bucket), target: 'completion-queue' },
    { name: 'dataset-uploaded', description: 'Dataset uploads under datasets/ start a run', pattern: datasetUploadedPattern(s.bucket), target: 'start-run' },
  ];
  // Always routed, even where Karpenter drains nodes: the jobs on a reclaimed node must still be marked, so their
  // stage fails as SpotInterrupted (retried, resumed) and not as RayJobFailed. Node handling is a handler setting.
  routes.push(
    { name: 'spot-interruption', description: 'Spot warnings and rebalance recommendations', pattern: spotInterruptionPattern, target: 'interruption-queue' },
    { name: 'instance-state-change', description: 'Instances stopping or terminating', pattern: instanceStateChangePattern, target: 'interruption-queue' },
  );
  // Run events (events/run-events.ts) → each pipeline's notifications; a run's early end → its jobs deleted.
  routes.push({ name: 'run-events-notify', description: 'Run events to the pipelines\' SNS topics and webhooks', pattern: runEventsPattern(), target: 'notify' });
  if (s.stateMachineArn) {
    routes.push({ name: 'execution-ended', description: 'Aborted, timed-out or failed executions: delete their Ray jobs, record the end', pattern: executionEndedPattern(s.stateMachineArn), target: 'execution-ended' });
  }
  return routes;
}

export function schedulesFor(s: RouteSettings): Schedule[] {
  return [
    ...s.pipelines
      .filter((p) => p.retrainSchedule)
      .map((p) => ({
        name: `retrain-${p.name}`,
        description: `Retrain ${p.name} on its latest dataset`,
        expression: p.retrainSchedule!,
        target: 'start-run' as const,
        input: { kind: 'schedule', pipeline: p.name },
      })),
  ];
}
