// The AWS adapters against mocked SDK clients (AWS APIs have no local equivalent; mocks are used only here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, NotFound, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { parseS3Uri, S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { MAX_OUTPUT_BYTES, OUTPUT_TOO_LARGE, SfnExecutions, SfnTaskCallbacks } from '../../adapters/aws/sfn.js';
import { DynamoTokenStore } from '../../adapters/aws/dynamo-tokens.js';
import { EventBridgePublisher } from '../../adapters/aws/eventbridge.js';
import type { BusEvent } from '../../core/ports.js';

/** The one method of the SDK's streaming body the store uses. */
const body = (text: string) => ({ transformToString: async () => text });

test('parseS3Uri splits bucket and key and refuses other schemes', () => {
  assert.deepEqual(parseS3Uri('s3://my-bucket/artifacts/p/r1/train/result.json'), { bucket: 'my-bucket', key: 'artifacts/p/r1/train/result.json' });
  assert.deepEqual(parseS3Uri('s3://my-bucket'), { bucket: 'my-bucket', key: '' });
  assert.throws(() => parseS3Uri('/tmp/x.json'), /not an s3:\/\/ URI/);
  assert.throws(() => parseS3Uri('https://my-bucket/x'), /not an s3:\/\/ URI/);
});

test('S3ObjectStore reads JSON and text, writes JSON, and a missing key is undefined', async () => {
  const s3 = mockClient(S3Client);
  s3.on(GetObjectCommand, { Bucket: 'bkt', Key: 'artifacts/p/champion.json' }).resolves({ Body: body('{"current":{"runId":"r1"}}') } as never);
  s3.on(GetObjectCommand, { Bucket: 'bkt', Key: 'pipelines/p.yaml' }).resolves({ Body: body('name: p\n') } as never);
  s3.on(GetObjectCommand, { Bucket: 'bkt', Key: 'missing.json' }).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));
  s3.on(PutObjectCommand).resolves({});
  const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));

  assert.deepEqual(await store.getJson('s3://bkt/artifacts/p/champion.json'), { current: { runId: 'r1' } });
  assert.equal(await store.getText('s3://bkt/pipelines/p.yaml'), 'name: p\n');
  assert.equal(await store.getJson('s3://bkt/missing.json'), undefined);
  await store.putJson('s3://bkt/artifacts/p/r1/run.json', { status: 'SUCCEEDED' });
  const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
  assert.equal(put.Bucket, 'bkt');
  assert.equal(put.Key, 'artifacts/p/r1/run.json');
  assert.equal(put.ContentType, 'application/json');
  assert.deepEqual(JSON.parse(String(put.Body)), { status: 'SUCCEEDED' });
  s3.restore();
});

test('S3ObjectStore raises access denied instead of reading it as missing', async () => {
  const s3 = mockClient(S3Client);
  s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', $metadata: { httpStatusCode: 403 } }));
  const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
  await assert.rejects(store.getJson('s3://bkt/artifacts/p/champion.json'), /Access Denied/);
  s3.restore();
});

test('S3ObjectStore head gives size and unquoted etag; a 404 is undefined', async () => {
  const s3 = mockClient(S3Client);
  s3.on(HeadObjectCommand, { Key: 'datasets/p/a.csv' }).resolves({ ContentLength: 1234, ETag: '"abc123"', LastModified: new Date(1_700_000_000_000) });
  s3.on(HeadObjectCommand, { Key: 'datasets/p/none.csv' }).rejects(new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }));
  const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
  assert.deepEqual(await store.head('s3://bkt/datasets/p/a.csv'), { uri: 's3://bkt/datasets/p/a.csv', size: 1234, etag: 'abc123', lastModified: 1_700_000_000_000 });
  assert.equal(await store.head('s3://bkt/datasets/p/none.csv'), undefined);
  s3.restore();
});

test('S3ObjectStore list follows continuation tokens and skips the folder marker', async () => {
  const s3 = mockClient(S3Client);
  s3.on(ListObjectsV2Command, { Prefix: 'datasets/p/', ContinuationToken: undefined }).resolves({
    Contents: [{ Key: 'datasets/p/', Size: 0 }, { Key: 'datasets/p/a.csv', Size: 10, ETag: '"e1"', LastModified: new Date(1000) }],
    IsTruncated: true,
    NextContinuationToken: 't2',
  });
  s3.on(ListObjectsV2Command, { Prefix: 'datasets/p/', ContinuationToken: 't2' }).resolves({ Contents: [{ Key: 'datasets/p/b.csv', Size: 20, ETag: '"e2"', LastModified: new Date(2000) }] });
  const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
  const listed = await store.list('s3://bkt/datasets/p');
  assert.deepEqual(listed, [
    { uri: 's3://bkt/datasets/p/a.csv', size: 10, etag: 'e1', lastModified: 1000 },
    { uri: 's3://bkt/datasets/p/b.csv', size: 20, etag: 'e2', lastModified: 2000 },
  ]);
  assert.equal(s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input.Delimiter, '/');
  s3.restore();
});

test('SfnTaskCallbacks: success sends JSON output; a finished, timed-out or invalid token is "gone"', async () => {
  const sfn = mockClient(SFNClient);
  sfn.on(SendTaskSuccessCommand, { taskToken: 'live' }).resolves({});
  sfn.on(SendTaskSuccessCommand, { taskToken: 'done' }).rejects(new TaskDoesNotExist({ message: 'Task does not exist', $metadata: {} }));
  sfn.on(SendTaskFailureCommand, { taskToken: 'late' }).rejects(new TaskTimedOut({ message: 'Task timed out', $metadata: {} }));
  sfn.on(SendTaskHeartbeatCommand, { taskToken: 'garbage' }).rejects(new InvalidToken({ message: 'Invalid Token', $metadata: {} }));
  sfn.on(SendTaskHeartbeatCommand, { taskToken: 'live' }).resolves({});
  const cb = new SfnTaskCallbacks(new SFNClient({ region: 'us-east-1' }));

  assert.equal(await cb.success('live', { stage: 'train', metrics: { auc: 0.99 } }), 'ok');
  assert.deepEqual(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!), { stage: 'train', metrics: { auc: 0.99 } });
  assert.equal(await cb.success('done', {}), 'gone');
  assert.equal(await cb.failure('late', 'RayJobFailed', 'boom'), 'gone');
  assert.equal(await cb.heartbeat('garbage'), 'gone');
  assert.equal(await cb.heartbeat('live'), 'ok');
  sfn.restore();
});

test('SfnTaskCallbacks: other errors are raised (the queue retries the message)', async () => {
  const sfn = mockClient(SFNClient);
  sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
  const cb = new SfnTaskCallbacks(new SFNClient({ region: 'us-east-1' }));
  await assert.rejects(cb.success('t', {}), /Rate exceeded/);
  sfn.restore();
});

test('SfnTaskCallbacks: output over 256 KiB fails the task with a named error instead', async () => {
  const sfn = mockClient(SFNClient);
  sfn.on(SendTaskFailureCommand).resolves({});
  const cb = new SfnTaskCallbacks(new SFNClient({ region: 'us-east-1' }));
  assert.equal(await cb.success('t', { details: 'x'.repeat(MAX_OUTPUT_BYTES) }), 'ok');
  assert.equal(sfn.commandCalls(SendTaskSuccessCommand).length, 0);
  const f = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
  assert.equal(f.error, OUTPUT_TOO_LARGE);
  assert.match(f.cause!, /at most 262144/);
  // Exactly at the limit still goes through as success.
  sfn.on(SendTaskSuccessCommand).resolves({});
  const atLimit = 'x'.repeat(MAX_OUTPUT_BYTES - 2); // JSON string quotes make it exactly MAX_OUTPUT_BYTES
  assert.equal(await cb.success('t', atLimit), 'ok');
  assert.equal(Buffer.byteLength(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.output!), MAX_OUTPUT_BYTES);
  sfn.restore();
});

test('SfnTaskCallbacks: failure truncates error and cause to the API limits, keeping the end of the cause', async () => {
  const sfn = mockClient(SFNClient);
  sfn.on(SendTaskFailureCommand).resolves({});
  const cb = new SfnTaskCallbacks(new SFNClient({ region: 'us-east-1' }));
  await cb.failure('t', 'E'.repeat(300), `${'a'.repeat(40_000)}THE END`);
  const f = sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input;
  assert.equal(f.error!.length, 256);
  assert.equal(f.cause!.length, 32_768);
  assert.ok(f.cause!.endsWith('THE END'));
  sfn.restore();
});

test('SfnExecutions: starts by name; ExecutionAlreadyExists reports alreadyStarted with the execution ARN', async () => {
  const sfn = mockClient(SFNClient);
  const sm = 'arn:aws:states:eu-west-1:123456789012:stateMachine:sentinel-dev-pipeline';
  sfn.on(StartExecutionCommand, { name: 'p-r1' }).resolves({ executionArn: `${sm.replace('stateMachine', 'execution')}:p-r1`, startDate: new Date() });
  sfn.on(StartExecutionCommand, { name: 'p-r2' }).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
  const ex = new SfnExecutions(new SFNClient({ region: 'eu-west-1' }), sm);
  assert.deepEqual(await ex.start('p-r1', { run: { runId: 'r1' } }), { executionId: 'arn:aws:states:eu-west-1:123456789012:execution:sentinel-dev-pipeline:p-r1', alreadyStarted: false });
  assert.deepEqual(await ex.start('p-r2', {}), { executionId: 'arn:aws:states:eu-west-1:123456789012:execution:sentinel-dev-pipeline:p-r2', alreadyStarted: true });
  const call = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
  assert.equal(call.stateMachineArn, sm);
  assert.deepEqual(JSON.parse(call.input!), { run: { runId: 'r1' } });
  sfn.restore();
});

test('DynamoTokenStore: put with a TTL, consistent get, delete; an expired item reads as absent', async () => {
  const ddb = mockClient(DynamoDBClient);
  ddb.on(PutItemCommand).resolves({});
  ddb.on(DeleteItemCommand).resolves({});
  ddb.on(GetItemCommand, { Key: { jobId: { S: 'live-job' } } }).resolves({ Item: { jobId: { S: 'live-job' }, token: { S: 'tok' }, expiresAt: { N: '2000' } } });
  ddb.on(GetItemCommand, { Key: { jobId: { S: 'old-job' } } }).resolves({ Item: { jobId: { S: 'old-job' }, token: { S: 'tok' }, expiresAt: { N: '999' } } });
  ddb.on(GetItemCommand, { Key: { jobId: { S: 'no-job' } } }).resolves({});
  const store = new DynamoTokenStore(new DynamoDBClient({ region: 'us-east-1' }), { table: 'tokens', ttlSeconds: 100, now: () => 1_000_000 });

  await store.put('live-job', 'tok');
  const put = ddb.commandCalls(PutItemCommand)[0]!.args[0].input;
  assert.equal(put.TableName, 'tokens');
  assert.deepEqual(put.Item, { jobId: { S: 'live-job' }, token: { S: 'tok' }, expiresAt: { N: '1100' } });
  assert.equal(await store.get('live-job'), 'tok');
  assert.equal(ddb.commandCalls(GetItemCommand)[0]!.args[0].input.ConsistentRead, true);
  assert.equal(await store.get('old-job'), undefined);
  assert.equal(await store.get('no-job'), undefined);
  await store.delete('live-job');
  assert.deepEqual(ddb.commandCalls(DeleteItemCommand)[0]!.args[0].input, { TableName: 'tokens', Key: { jobId: { S: 'live-job' } } });
  ddb.restore();
});

const events = (n: number): BusEvent[] =>
  Array.from({ length: n }, (_, i) => ({ source: 'sentinel.jobs', 'detail-type': 'Ray Job State Change', detail: { jobId: `j${i}` }, time: '2024-01-01T00:00:00.000Z', resources: [`j${i}`] }));

test('EventBridgePublisher sends batches of at most 10 entries', async () => {
  const eb = mockClient(EventBridgeClient);
  eb.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({ FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) }));
  const pub = new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), { eventBusName: 'default' });
  await pub.publish(events(23));
  const sizes = eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.length);
  assert.deepEqual(sizes, [10, 10, 3]);
  const first = eb.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!;
  assert.equal(first.Source, 'sentinel.jobs');
  assert.equal(first.DetailType, 'Ray Job State Change');
  assert.deepEqual(JSON.parse(first.Detail!), { jobId: 'j0' });
  assert.equal(first.EventBusName, 'default');
  assert.deepEqual(first.Resources, ['j0']);
  eb.restore();
});

test('EventBridgePublisher retries only the failed entries, then raises what still fails', async () => {
  const eb = mockClient(EventBridgeClient);
  let call = 0;
  eb.on(PutEventsCommand).callsFake((input: { Entries: Array<{ Detail: string }> }) => {
    call++;
    // First call: entries 1 and 3 fail; second call: all succeed.
    if (call === 1) return { FailedEntryCount: 2, Entries: input.Entries.map((_, i) => (i === 1 || i === 3 ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' } : { EventId: 'ok' })) };
    return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'ok' })) };
  });
  const pub = new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), { sleep: async () => undefined });
  await pub.publish(events(5));
  const retried = eb.commandCalls(PutEventsCommand)[1]!.args[0].input.Entries!.map((e) => JSON.parse(e.Detail!).jobId);
  assert.deepEqual(retried, ['j1', 'j3']);
  eb.restore();

  const failing = mockClient(EventBridgeClient);
  failing.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({ FailedEntryCount: input.Entries.length, Entries: input.Entries.map(() => ({ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' })) }));
  const pub2 = new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), { sleep: async () => undefined, maxAttempts: 3 });
  await assert.rejects(pub2.publish(events(2)), /rejected 2 of 2 events after 3 attempts: ThrottlingException \(slow down\)/);
  assert.equal(failing.commandCalls(PutEventsCommand).length, 3);
  failing.restore();
});
