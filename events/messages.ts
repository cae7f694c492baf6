// What may arrive on each queue, as data: one parser per message kind, keyed on the event's source and detail-type
// (as Karpenter's interruption controller keys its parsers), with the rule pattern that sends that kind to the
// queue. A message whose source + detail-type has no parser here, that no rule of the queue would have sent, or
// whose detail breaks its kind's schema is malformed: the consumer fails it, so SQS redrives it to the queue's DLQ.
import { z } from 'zod';
import { JOB_EVENT_DETAIL_TYPE, JOB_EVENT_SOURCE, JobStateChangeDetailSchema } from './job-state-change.js';
import { instanceStateChangePattern, jobCompletedPattern, spotInterruptionPattern, stageWrittenPattern, type EventPattern } from './patterns.js';
import { OBJECT_CREATED_DETAIL_TYPE, S3_EVENT_SOURCE, StageWrittenDetailSchema } from './object-created.js';
import type { RouteTarget } from './routes.js';

export interface MessageKind<K extends string = string, S extends z.ZodType = z.ZodType> {
  kind: K;
  source: string;
  detailType: string;
  /** The detail's schema (EventBridgeEnvelope parses the detail with it). */
  detail: S;
  /**
   * The rule pattern that routes this kind to the queue: a message it does not match was not sent by that rule. A
   * kind that two rules send has their patterns as a top-level `$or` (stage-written: result and failure records).
   */
  pattern: EventPattern;
}

const kind = <K extends string, S extends z.ZodType>(k: MessageKind<K, S>) => k;

/** An EC2 instance id as EC2 events carry it. */
const InstanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'is not an EC2 instance id');

/**
 * The completion queue: job state changes published by the watcher, and S3's Object Created of a stage's result.json
 * or failure.json (the job's own write: the pushed completion, from the rules stage-result-written and
 * stage-failure-written; one parser, as both are the same source + detail-type). All are claims that complete-stage
 * checks against the compute port.
 */
export const COMPLETION_MESSAGES = [
  kind({ kind: 'job-state-change', source: JOB_EVENT_SOURCE, detailType: JOB_EVENT_DETAIL_TYPE, detail: JobStateChangeDetailSchema, pattern: jobCompletedPattern }),
  kind({ kind: 'stage-written', source: S3_EVENT_SOURCE, detailType: OBJECT_CREATED_DETAIL_TYPE, detail: StageWrittenDetailSchema, pattern: stageWrittenPattern() }),
] as const;

/** The interruption queue: EC2's own events (AWS may add fields to a detail, so unknown fields pass). */
export const INTERRUPTION_MESSAGES = [
  kind({
    kind: 'spot-warning',
    source: 'aws.ec2',
    detailType: 'EC2 Spot Instance Interruption Warning',
    detail: z.looseObject({ 'instance-id': InstanceId, 'instance-action': z.string().min(1) }),
    pattern: spotInterruptionPattern,
  }),
  kind({
    kind: 'rebalance',
    source: 'aws.ec2',
    detailType: 'EC2 Instance Rebalance Recommendation',
    detail: z.looseObject({ 'instance-id': InstanceId }),
    pattern: spotInterruptionPattern,
  }),
  kind({
    kind: 'state-change',
    source: 'aws.ec2',
    detailType: 'EC2 Instance State-change Notification',
    detail: z.looseObject({ 'instance-id': InstanceId, state: z.string().min(1) }),
    pattern: instanceStateChangePattern,
  }),
] as const;

/** Each queue's message kinds (the queues are the routes' logical targets). */
export const QUEUE_MESSAGES = {
  'completion-queue': COMPLETION_MESSAGES,
  'interruption-queue': INTERRUPTION_MESSAGES,
} as const satisfies Partial<Record<RouteTarget, readonly MessageKind[]>>;

/** One parsed message of a kinds table: its kind, its detail as that kind's schema outputs it, and the envelope. */
export type MessageOf<T extends readonly MessageKind[]> = {
  [I in keyof T]: T[I] extends MessageKind<infer K, infer S> ? { kind: K; detail: z.output<S>; event: EventEnvelope } : never;
}[number];

/** The EventBridge envelope fields a consumer may read (what Powertools' EventBridgeSchema checks). */
export interface EventEnvelope {
  version: string;
  id: string;
  source: string;
  'detail-type': string;
  account: string;
  time: string;
  region: string;
  resources: string[];
}

export const messageKey = (source: string, detailType: string) => `${source}\u0000${detailType}`;
