// The completion queue's S3 rules under a second, independent matcher: moto's EventBridge (server mode) with one
// rule per route of events/routes.ts, each targeting its own SQS queue, and S3 Object Created events (AWS's sample
// with one key changed) put on the bus. The keys each rule delivers must be exactly those events/match.ts says it
// matches: the stage-result-written and stage-failure-written wildcards (stage folders' result.json and failure.json
// only, not Ray Tune's trial files) and the dataset-uploaded prefix. (moto's TestEventPattern is a no-op, so delivery is what is compared.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { startMoto, useMotoEnv, REGION, type Moto } from '../support/moto.js';
import { routesFor } from '../../events/routes.js';
import { matches } from '../../events/match.js';
import { s3Upload } from '../support/events.js';

const BUCKET = 'sentinel-test-artifacts';
const RUN = 'r012345678';
const KEYS = [
  ...['ingest', 'train', 'tune', 'evaluate'].map((s) => `artifacts/churn/${RUN}/${s}/result.json`),
  `artifacts/churn/${RUN}/tune/ray/tune/_trial_1a2b3_00000_0_eta=0.1/result.json`,
  ...['ingest', 'evaluate'].map((s) => `artifacts/churn/${RUN}/${s}/failure.json`),
  `artifacts/churn/${RUN}/tune/ray/tune/_trial_1a2b3_00000_0_eta=0.1/failure.json`,
  `artifacts/churn/${RUN}/deploy/failure.json`,
  `artifacts/churn/${RUN}/train/checkpoints/train/checkpoint_000001/result.json`,
  `artifacts/churn/${RUN}/run.json`,
  `artifacts/churn/${RUN}/deploy/result.json`,
  'datasets/churn/data.csv',
  'example-key',
];

let moto: Moto;
let restore: () => void;
let events: EventBridgeClient;

before(async () => {
  moto = await startMoto();
  restore = useMotoEnv(moto);
  events = new EventBridgeClient({ region: REGION });
});

after(async () => {
  events?.destroy();
  restore?.();
  await moto?.stop();
});

/** SQS through its JSON protocol (moto checks no signature; the project has no SQS client of its own). */
async function sqs<T>(action: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(moto.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AmazonSQS.${action}`, authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`SQS ${action}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

test('moto delivers to each S3 rule exactly the keys events/match.ts matches', async () => {
  const routes = routesFor({ bucket: BUCKET, pipelines: [] }).filter((r) => ['stage-result-written', 'stage-failure-written', 'dataset-uploaded'].includes(r.name));
  assert.equal(routes.length, 3);
  const queues: Record<string, string> = {};
  for (const r of routes) {
    const { QueueUrl } = await sqs<{ QueueUrl: string }>('CreateQueue', { QueueName: `q-${r.name}` });
    const { Attributes } = await sqs<{ Attributes: { QueueArn: string } }>('GetQueueAttributes', { QueueUrl, AttributeNames: ['QueueArn'] });
    queues[r.name] = QueueUrl;
    await events.send(new PutRuleCommand({ Name: r.name, EventPattern: JSON.stringify(r.pattern) }));
    await events.send(new PutTargetsCommand({ Rule: r.name, Targets: [{ Id: 'q', Arn: Attributes.QueueArn }] }));
  }
  const sample = (key: string) => s3Upload(BUCKET, key);
  for (const key of KEYS) {
    const e = sample(key);
    const out = await events.send(new PutEventsCommand({ Entries: [{ Source: e.source, DetailType: e['detail-type'], Detail: JSON.stringify(e.detail), Resources: e.resources }] }));
    assert.equal(out.FailedEntryCount ?? 0, 0);
  }
  // And one from another bucket, which neither rule takes.
  const foreign = s3Upload('another-bucket', `artifacts/churn/${RUN}/train/result.json`);
  await events.send(new PutEventsCommand({ Entries: [{ Source: foreign.source, DetailType: foreign['detail-type'], Detail: JSON.stringify(foreign.detail) }] }));

  for (const r of routes) {
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { Messages = [] } = await sqs<{ Messages?: Array<{ Body: string }> }>('ReceiveMessage', { QueueUrl: queues[r.name], MaxNumberOfMessages: 10, WaitTimeSeconds: 0 });
      if (!Messages.length) break;
      got.push(...Messages.map((m) => (JSON.parse(m.Body) as { detail: { bucket: { name: string }; object: { key: string } } }).detail).map((d) => `${d.bucket.name}/${d.object.key}`));
    }
    const expected = [...KEYS.map((k) => sample(k)), foreign].filter((e) => matches(r.pattern, e)).map((e) => `${e.detail.bucket.name}/${e.detail.object.key}`);
    assert.deepEqual(got.sort(), [...new Set(expected)].sort(), r.name);
    assert.ok(expected.length > 0, `${r.name} matches something`);
  }
});
