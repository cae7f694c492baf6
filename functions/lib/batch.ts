// SQS consumers of EventBridge events, built on Powertools' batch processor and parser envelopes. Each record is
// parsed on its own: SqsEnvelope checks the record and decodes its body as an EventBridge event, the kinds table
// (events/messages.ts) picks the parser by source + detail-type, and EventBridgeEnvelope checks the detail with that
// kind's schema. A record that fails to parse, or whose handling throws, is reported in batchItemFailures: SQS
// redelivers it and, after the queue's maxReceiveCount, moves it to the DLQ. Its neighbours are not affected.
// Every consumer goes through sqsEventConsumer, which goes through handlerFor (the one handler factory).
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { EventBridgeEnvelope, SqsEnvelope } from '@aws-lambda-powertools/parser/envelopes';
import { JSONStringified } from '@aws-lambda-powertools/parser/helpers';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { errorNameOf, handlerFor, type Handler, type Invocation } from './handler.js';
import { logger } from './logger.js';
import { SqsBatchEvent } from '../schemas.js';
import { formatIssues } from '../../core/validation.js';
import { matches } from '../../events/match.js';
import { messageKey, type EventEnvelope, type MessageKind, type MessageOf } from '../../events/messages.js';

/** A record that is not a message this queue carries. Redelivery cannot fix it: it ends in the DLQ. */
export class MalformedMessage extends Error {
  override readonly name = 'MalformedMessage';
}

/** What a message handler gets besides the message: the invocation's, plus the record it came in. */
export interface MessageContext extends Invocation {
  messageId: string;
  /** 1 on first delivery; SQS's ApproximateReceiveCount. */
  receiveCount: number;
}

/** Parse error causes are ZodErrors; their issues say where, never echo the input. */
function problemOf(e: unknown, where: string): string {
  const issues = (e as { cause?: { issues?: z.core.$ZodIssue[] } })?.cause?.issues;
  return issues?.length ? formatIssues(issues, where) : (e as Error).message;
}

const MAX_PROBLEM = 1000;
const capped = (s: string) => (s.length > MAX_PROBLEM ? `${s.slice(0, MAX_PROBLEM)}… (${s.length} characters)` : s);

/** Parses one SQS record into one message of the table, or throws MalformedMessage saying what is wrong and where. */
export function parseMessage<T extends readonly MessageKind[]>(record: SQSRecord, kinds: T): MessageOf<T> {
  const byKey = new Map(kinds.map((k) => [messageKey(k.source, k.detailType), k]));
  const envelope = SqsEnvelope.safeParse({ Records: [record] }, JSONStringified(EventBridgeSchema));
  if (!envelope.success) throw new MalformedMessage(capped(`not an EventBridge event in an SQS record: ${problemOf(envelope.error, 'record')}`));
  const event = envelope.data[0]!;
  const kind = byKey.get(messageKey(event.source, event['detail-type']));
  if (!kind) throw new MalformedMessage(capped(`no parser for source "${event.source}" detail-type "${event['detail-type']}" on this queue`));
  if (!matches(kind.pattern, event)) throw new MalformedMessage(`a ${kind.kind} event that no rule of this queue sends (it does not match the rule's pattern)`);
  const detail = EventBridgeEnvelope.safeParse(event, kind.detail);
  if (!detail.success) throw new MalformedMessage(capped(`${kind.kind}: ${problemOf(detail.error, 'event')}`));
  const { detail: _raw, 'replay-name': _replay, ...rest } = event;
  return { kind: kind.kind, detail: detail.data, event: rest as EventEnvelope } as MessageOf<T>;
}

/**
 * An SQS consumer of the messages in `kinds`: `handle` is called once per well-formed record, in order; the response
 * lists every record that was malformed or whose handling threw. Each failed record counts one HandlerErrors.
 */
export function sqsEventConsumer<T extends readonly MessageKind[]>(
  name: string,
  kinds: T,
  handle: (message: MessageOf<T>, ctx: MessageContext) => Promise<void>,
): Handler<unknown, SQSBatchResponse> {
  return handlerFor(name, SqsBatchEvent, async (event, invocation): Promise<SQSBatchResponse> => {
    // One processor per invocation: its state (the failures it collects) is this batch's alone.
    const processor = new BatchProcessor(EventType.SQS, { logger });
    const onRecord = async (record: SQSRecord) => {
      const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      try {
        const message = parseMessage(record, kinds);
        await handle(message, { ...invocation, messageId: record.messageId, receiveCount });
      } catch (e) {
        const error = errorNameOf(e);
        logger.error(e instanceof MalformedMessage ? 'malformed message: failed, to be redriven to the DLQ' : 'message failed; SQS will redeliver it (then dead-letter it)', {
          messageId: record.messageId,
          receiveCount,
          error,
          problem: capped((e as Error).message ?? String(e)),
        });
        invocation.metrics.add('HandlerErrors', 1, { Function: name, ErrorName: error });
        throw e;
      }
    };
    // Sequential: duplicates of one message in one batch see each other's effects (the token is gone after the first).
    return processPartialResponse(event as unknown as SQSEvent, onRecord, processor, { context: invocation.context, processInParallel: false, throwOnFullBatchFailure: false });
  });
}
