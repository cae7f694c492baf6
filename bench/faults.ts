// The fault suite as one table (issue 14 item 8): every fault case of the test suites, run here and printed as
// fault | injected | happened | lost | orphaned. The cases are the ones the tests assert on (test/support/*-faults.ts):
// forged completion events, poison messages, 3x shuffled delivery (completion path), N concurrent promotions on the
// local store and, with moto installed, on S3 (conditional writes), SIGKILL of submit-stage / finish-run / promote
// after each of their writes, and 409/429/5xx bursts on the real kube-apiserver. Exits 1 when any row lost or
// orphaned something, or a case could not run.
//   npm run bench:faults   (handler logs off: POWERTOOLS_LOG_LEVEL=SILENT; set it yourself when running this file directly)
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { completionFaults, type FaultRow } from '../test/support/completion-faults.js';
import { racePromotions } from '../test/support/concurrency-faults.js';
import { sigkillFault } from '../test/support/sigkill-faults.js';
import { apiBurstFault } from '../test/support/api-faults.js';
import { startKube } from '../test/k8s/harness.js';
import { MOTO_SERVER, startMoto } from '../test/support/moto.js';
import { LocalObjectStore } from '../local/object-store.js';
import { S3ObjectStore } from '../adapters/aws/s3-store.js';

const N = 8;
const rows: Array<FaultRow & { seconds: number }> = [];
const failures: string[] = [];

async function row(name: string, make: () => Promise<FaultRow>) {
  const t = performance.now();
  try {
    rows.push({ ...(await make()), seconds: (performance.now() - t) / 1000 });
  } catch (e) {
    failures.push(`${name}: ${(e as Error).stack ?? String(e)}`);
  }
}

for (const c of completionFaults) await row(c.name, c.run);
await row('concurrent runs (local store)', async () => {
  const root = join(await mkdtemp(join(tmpdir(), 'sentinel-bench-cas-')), 'artifacts');
  return (await racePromotions({ n: N, root, store: new LocalObjectStore(), label: 'local store' })).row;
});
if (existsSync(MOTO_SERVER)) {
  await row('concurrent runs (S3 on moto)', async () => {
    const moto = await startMoto();
    try {
      const client = new S3Client({ endpoint: moto.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      await client.send(new CreateBucketCommand({ Bucket: 'race-bkt' }));
      return (await racePromotions({ n: N, root: 's3://race-bkt/artifacts', store: new S3ObjectStore(client), s3Endpoint: moto.endpoint, label: 'S3 on moto' })).row;
    } finally {
      await moto.stop();
    }
  });
} else failures.push(`concurrent runs (S3 on moto): moto_server not installed at ${MOTO_SERVER} (scripts/bootstrap.sh installs it)`);
await row('SIGKILL of a handler mid-call', async () => (await sigkillFault()).row);
await row('409/429/5xx API bursts', async () => {
  const kube = await startKube();
  try {
    return await apiBurstFault(kube);
  } finally {
    await kube.stop();
  }
});

const cell = (s: string) => s.replace(/\|/g, '/');
console.log('| fault | injected | happened | lost | orphaned | seconds |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${cell(r.fault)} | ${cell(r.injected)} | ${cell(r.happened)} | ${r.lost} | ${r.orphaned} | ${r.seconds.toFixed(1)} |`);
const bad = rows.filter((r) => r.lost !== 0 || r.orphaned !== 0);
console.log(`\n${rows.length} fault rows, ${bad.length} with something lost or orphaned, ${failures.length} cases that could not run`);
for (const f of failures) console.error(f);
process.exit(bad.length || failures.length ? 1 : 0);
