// Fault row "concurrent runs" (issue 14): N processes promote at once against one champion, on the local store
// (real processes, its cross-process compare-and-swap) and, when moto is installed, on S3 (conditional PutObject).
// No lost update: every successful promotion is in one chain, the final champion is the best by the gate's rule,
// and serving shows the recorded champion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalObjectStore } from '../../local/object-store.js';
import { S3ObjectStore } from '../../adapters/aws/s3-store.js';
import { racePromotions } from '../support/concurrency-faults.js';
import type { FaultRow } from '../support/completion-faults.js';
import { MOTO_SERVER, startMoto } from '../support/moto.js';

const N = 8;
const rows: FaultRow[] = [];

const check = (r: Awaited<ReturnType<typeof racePromotions>>) => {
  rows.push(r.row);
  assert.equal(r.figures.errors, 0, JSON.stringify(r.outcomes.filter((o) => o.error)));
  assert.equal(r.figures.forks, 0, 'two promotions replaced the same champion');
  assert.equal(r.figures.lostUpdates, 0);
  assert.ok(r.figures.finalIsBest, `final champion ${r.record?.current.runId} (${r.record?.current.value}) is not the best`);
  assert.ok(r.figures.servingMatches, 'serving shows another run than champion.json');
  assert.equal(r.figures.promoted + r.figures.kept, N);
  // champion.json's history: previous is the champion the final one replaced, and it lost to it.
  if (r.record?.previous) assert.ok(r.record.current.value > r.record.previous.value);
};

test(`${N} concurrent promotions on the local store (separate processes): no lost update`, async () => {
  const root = join(await mkdtemp(join(tmpdir(), 'sentinel-cas-')), 'artifacts');
  check(await racePromotions({ n: N, root, store: new LocalObjectStore(), label: 'local store' }));
});

test(`${N} concurrent promotions on S3 (moto, conditional writes): no lost update`, { skip: !existsSync(MOTO_SERVER) && 'moto_server not installed' }, async () => {
  const moto = await startMoto();
  try {
    const client = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await client.send(new CreateBucketCommand({ Bucket: 'race-bkt' }));
    check(await racePromotions({ n: N, root: 's3://race-bkt/artifacts', store: new S3ObjectStore(client), s3Endpoint: moto.endpoint, label: 'S3 on moto' }));
  } finally {
    await moto.stop();
  }
});

test('fault table: concurrent runs', () => {
  console.log('fault | injected | happened | lost | orphaned');
  for (const r of rows) console.log(`${r.fault} | ${r.injected} | ${r.happened} | ${r.lost} | ${r.orphaned}`);
  assert.ok(rows.every((r) => r.lost === 0 && r.orphaned === 0));
});
