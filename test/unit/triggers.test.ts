// Triggers → decisions: which uploads start a run (and with what identity), when a schedule retrains, and where a
// spec's dataset lives. Asserts the decision a caller acts on, not the wording of the reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetUriFor, decideForSchedule, decideForUpload, pipelineSpecUri, type S3ObjectCreated } from '../../core/triggers.js';
import type { ObjectInfo, ObjectStore } from '../../core/ports.js';
import type { ChampionRecord } from '../../core/model.js';

const BUCKET = 's3://sentinel-artifacts';
const upload = (key: string, extra: Partial<S3ObjectCreated> = {}) => decideForUpload({ bucket: 'sentinel-artifacts', key, size: 100, ...extra }, BUCKET);

test('an upload of datasets/<pipeline>/<file>.csv starts a run of that pipeline on that object', () => {
  assert.deepEqual(upload('datasets/churn/2024-06.csv', { versionId: 'v1', sequencer: 's1', etag: 'e1' }), {
    action: 'start',
    pipeline: 'churn',
    datasetUri: 's3://sentinel-artifacts/datasets/churn/2024-06.csv',
    trigger: { kind: 's3', bucket: 'sentinel-artifacts', key: 'datasets/churn/2024-06.csv', versionId: 'v1', sequencer: 's1', etag: 'e1' },
  });
  // Deeper folders belong to the first one; the extension is case-insensitive; absent identity fields stay absent.
  assert.deepEqual(upload('datasets/churn/2024/06/Data.CSV'), {
    action: 'start',
    pipeline: 'churn',
    datasetUri: 's3://sentinel-artifacts/datasets/churn/2024/06/Data.CSV',
    trigger: { kind: 's3', bucket: 'sentinel-artifacts', key: 'datasets/churn/2024/06/Data.CSV' },
  });
  // Size unknown (some notifications omit it) is not "empty".
  assert.equal(decideForUpload({ bucket: 'b', key: 'datasets/churn/a.csv' }, BUCKET).action, 'start');
  // The longest pipeline name (24 chars) and digits after the first letter are pipeline names.
  const longest = 'a' + 'b1-'.repeat(7) + 'cd';
  assert.equal(longest.length, 24);
  assert.deepEqual(upload(`datasets/${longest}/x.csv`).action, 'start');
  assert.deepEqual(upload('datasets/a/x.csv').action, 'start');
});

test('each ignore rule of the upload trigger starts nothing', () => {
  const ignored = (key: string, extra: Partial<S3ObjectCreated> = {}) => {
    const d = upload(key, extra);
    assert.equal(d.action, 'ignore', key);
    assert.ok(d.action === 'ignore' && d.reason.length > 0, 'an ignored upload says why');
  };
  ignored('uploads/churn/a.csv'); // outside datasets/
  ignored('xdatasets/churn/a.csv');
  ignored('churn/datasets/a.csv');
  ignored('datasets/churn/a.csv', { size: 0 }); // an empty object
  ignored('datasets/churn/'); // a folder marker
  ignored('datasets/churn.csv'); // no pipeline folder
  ignored('datasets/Churn/a.csv'); // not a pipeline name: upper case,
  ignored('datasets/churn_v2/a.csv'); // underscore,
  ignored('datasets/1churn/a.csv'); // leading digit,
  ignored('datasets/churn-/a.csv'); // trailing dash,
  ignored(`datasets/${'a'.repeat(25)}/a.csv`); // longer than 24,
  ignored('datasets//a.csv'); // empty
  ignored('datasets/churn/a.json'); // not a CSV
  ignored('datasets/churn/a.csv.gz');
  ignored('datasets/churn/csv');
});

/** An object store holding datasets and, optionally, the champion record. */
function store(objects: ObjectInfo[], champion?: ChampionRecord): ObjectStore & { listed: string[]; read: string[] } {
  const listed: string[] = [];
  const read: string[] = [];
  return {
    listed,
    read,
    async list(prefix) {
      listed.push(prefix);
      return objects.filter((o) => o.uri.startsWith(`${prefix}/`));
    },
    async getJson<T>(uri: string) {
      read.push(uri);
      return (uri.endsWith('/churn/champion.json') ? champion : undefined) as T | undefined;
    },
    getText: async () => undefined,
    putJson: async () => undefined,
    head: async () => undefined,
    getJsonVersioned: async () => undefined,
    putJsonIf: async () => 'conflict' as const,
  };
}
const obj = (name: string, lastModified: number, etag = `etag-${name}`, size = 10): ObjectInfo => ({ uri: `${BUCKET}/datasets/churn/${name}`, size, etag, lastModified });
const champion = (uri: string, etag: string): ChampionRecord =>
  ({ pipeline: 'churn', current: { runId: 'r0000000001', dataset: { uri, etag } } }) as unknown as ChampionRecord;
const tick = { pipeline: 'churn', schedule: 'nightly', time: '2024-06-01T00:00:00Z' };
const deps = (s: ObjectStore) => ({ store: s, bucketUri: BUCKET, artifactRoot: `${BUCKET}/artifacts` });

test('a schedule retrains on the newest non-empty CSV of the pipeline', async () => {
  const s = store([obj('a.csv', 1), obj('c.csv', 3), obj('empty.csv', 9, 'e', 0), obj('notes.txt', 8), obj('B.CSV', 2)]);
  const d = await decideForSchedule(tick, deps(s));
  assert.deepEqual(d, {
    action: 'start',
    pipeline: 'churn',
    datasetUri: `${BUCKET}/datasets/churn/c.csv`,
    trigger: { kind: 'schedule', schedule: 'nightly', time: '2024-06-01T00:00:00Z' },
  });
  assert.deepEqual(s.listed, [`${BUCKET}/datasets/churn`]);
  assert.deepEqual(s.read, [`${BUCKET}/artifacts/churn/champion.json`]);
  // Upper-case extensions count, and the newest wins whatever the listing order.
  const upper = await decideForSchedule(tick, deps(store([obj('B.CSV', 5), obj('a.csv', 1), obj('c.csv', 3)])));
  assert.equal(upper.action === 'start' && upper.datasetUri, `${BUCKET}/datasets/churn/B.CSV`);
});

test('a schedule skips when the champion was trained on exactly the newest object, and retrains when its content changed', async () => {
  const latest = obj('data.csv', 5, 'etag-2');
  const same = await decideForSchedule(tick, deps(store([obj('old.csv', 1), latest], champion(latest.uri, 'etag-2'))));
  assert.equal(same.action, 'ignore');
  // The same key with new content (a new ETag) is a new dataset.
  const changed = await decideForSchedule(tick, deps(store([latest], champion(latest.uri, 'etag-1'))));
  assert.equal(changed.action, 'start');
  // Another key with the same ETag (a copy) is also new.
  const other = await decideForSchedule(tick, deps(store([latest], champion(`${BUCKET}/datasets/churn/old.csv`, 'etag-2'))));
  assert.equal(other.action, 'start');
  // A champion without a dataset record (trained by hand) does not block.
  const unknown = await decideForSchedule(tick, deps(store([latest], { pipeline: 'churn', current: { runId: 'r0000000001' } } as unknown as ChampionRecord)));
  assert.equal(unknown.action, 'start');
});

test('a forced schedule retrains anyway, under its own trigger identity', async () => {
  const latest = obj('data.csv', 5, 'etag-2');
  const d = await decideForSchedule({ ...tick, force: true }, deps(store([latest], champion(latest.uri, 'etag-2'))));
  assert.deepEqual(d, {
    action: 'start',
    pipeline: 'churn',
    datasetUri: latest.uri,
    trigger: { kind: 'schedule', schedule: 'nightly#force', time: tick.time },
  });
  const unforced = await decideForSchedule({ ...tick, force: false }, deps(store([latest])));
  assert.equal(unforced.action === 'start' && unforced.trigger.kind === 'schedule' && unforced.trigger.schedule, 'nightly');
});

test('a schedule with no dataset uploaded starts nothing', async () => {
  assert.equal((await decideForSchedule(tick, deps(store([])))).action, 'ignore');
  assert.equal((await decideForSchedule(tick, deps(store([obj('empty.csv', 1, 'e', 0), obj('x.parquet', 2)])))).action, 'ignore');
});

test('a spec dataset URI: absolute paths and URLs as they are, anything else a key in the bucket', () => {
  assert.equal(datasetUriFor(BUCKET, '/data/churn.csv'), '/data/churn.csv');
  assert.equal(datasetUriFor(BUCKET, 's3://other/datasets/churn.csv'), 's3://other/datasets/churn.csv');
  assert.equal(datasetUriFor(BUCKET, 'file:///data/churn.csv'), 'file:///data/churn.csv');
  assert.equal(datasetUriFor(BUCKET, 'gs3://x/y.csv'), 'gs3://x/y.csv');
  assert.equal(datasetUriFor(BUCKET, 'datasets/churn/a.csv'), `${BUCKET}/datasets/churn/a.csv`);
  assert.equal(datasetUriFor('/srv/bucket', 'datasets/churn/a.csv'), '/srv/bucket/datasets/churn/a.csv');
  // Not a scheme: upper case, no "//", or a scheme-looking text later in the key.
  assert.equal(datasetUriFor(BUCKET, 'S3://x/y.csv'), `${BUCKET}/S3://x/y.csv`);
  assert.equal(datasetUriFor(BUCKET, 's3:/x/y.csv'), `${BUCKET}/s3:/x/y.csv`);
  assert.equal(datasetUriFor(BUCKET, 'datasets/s3://y.csv'), `${BUCKET}/datasets/s3://y.csv`);
  assert.equal(datasetUriFor(BUCKET, 'x-y://z.csv'), `${BUCKET}/x-y://z.csv`);
  assert.equal(pipelineSpecUri(BUCKET, 'churn'), `${BUCKET}/pipelines/churn.yaml`);
});
