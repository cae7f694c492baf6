// SNS as the notifications use it (adapters/aws/sns.ts SnsTopic.publish) against moto in server mode: a topic with two
// HTTP subscriptions whose filter policies select on the message attributes; moto delivers to the one whose policy
// matches, to a real HTTP server in this process. (moto's HTTP delivery body carries the message and subject, not
// the attributes, so the attributes are checked through the filter policies moto applies to them.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { startMoto, useMotoEnv, REGION, type Moto } from '../support/moto.js';
import { SnsTopic } from '../../adapters/aws/sns.js';

let moto: Moto;
let restore: () => void;
let sns: SNSClient;
let server: Server;
let port: number;
const received: Array<{ path: string; body: { Message?: string; Subject?: string; TopicArn?: string; Type?: string } }> = [];

before(async () => {
  moto = await startMoto();
  restore = useMotoEnv(moto);
  sns = new SNSClient({ region: REGION });
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body || '{}') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  sns?.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  restore?.();
  await moto?.stop();
});

test('SnsTopic.publish: subject and text delivered, attributes matched by subscription filter policies', async () => {
  const topic = await sns.send(new CreateTopicCommand({ Name: 'sentinel-test-notifications' }));
  const topicArn = topic.TopicArn!;
  const sub = (path: string, policy: Record<string, string[]>) =>
    sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: `http://127.0.0.1:${port}${path}`, Attributes: { FilterPolicy: JSON.stringify(policy) } }));
  await sub('/bc', { pipeline: ['breast-cancer'] });
  await sub('/iris', { pipeline: ['iris'] });
  await sub('/promoted', { event: ['Model Promoted'] });

  const long = `Run r0123456789 of breast-cancer succeeded\n${'x'.repeat(300)}`;
  await new SnsTopic(sns).publish(topicArn, { subject: `breast-cancer: Run Succeeded ✔ ${'y'.repeat(200)}`, text: long, attributes: { pipeline: 'breast-cancer', event: 'Run Succeeded', runId: 'r0123456789' } });

  const deadline = Date.now() + 10_000;
  while (!received.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // any wrongly delivered copy would have come by now
  assert.deepEqual(received.map((r) => r.path), ['/bc']);
  const m = received[0]!.body;
  assert.equal(m.TopicArn, topicArn);
  assert.equal(m.Message, long);
  // SNS subjects: ≤ 100 printable ASCII characters, no line breaks (the adapter trims; SNS would refuse otherwise).
  assert.ok(m.Subject && m.Subject.length <= 100 && /^[\x20-\x7e]+$/.test(m.Subject), m.Subject);
  assert.match(m.Subject!, /^breast-cancer: Run Succeeded/);
});
