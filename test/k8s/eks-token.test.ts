// EKS bearer tokens: the exact shape aws-iam-authenticator accepts, checked against an independent SigV4
// computation, with fixed credentials and a fixed clock. DescribeCluster is mocked (no local AWS equivalent).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { clearEksCaches, describeEksCluster, eksEndpoint, eksToken, eksTokenProvider, TOKEN_PREFIX } from '../../adapters/aws/eks-token.js';

const creds = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const session = { ...creds, sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE+token/with=chars' };
const date = new Date('2026-11-23T10:00:00Z');
const cluster = 'sentinel-prod';
const region = 'eu-west-1';

beforeEach(() => clearEksCaches());

const decode = (token: string) => new URL(Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));

/** SigV4 by hand (AWS General Reference, "Create a signed request"), independent of @smithy/signature-v4. */
function expectedSignature(url: URL, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => [enc(k), enc(v)] as const);
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalRequest = [
    'GET',
    '/',
    params.map(([k, v]) => `${k}=${v}`).join('&'),
    `host:${url.hostname}`,
    `x-k8s-aws-id:${cluster}`,
    '',
    'host;x-k8s-aws-id',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date')!;
  const scope = `${amzDate.slice(0, 8)}/${region}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), region), 'sts'), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

test('token = k8s-aws-v1. + base64url (no padding) of a presigned GetCallerIdentity URL', async () => {
  const token = await eksToken({ clusterName: cluster, region, credentials: creds, date });
  assert.ok(token.startsWith('k8s-aws-v1.'), token.slice(0, 20));
  const body = token.slice(TOKEN_PREFIX.length);
  assert.match(body, /^[A-Za-z0-9_-]+$/, 'base64url alphabet, no "=" padding');
  const url = decode(token);
  assert.equal(url.protocol, 'https:');
  assert.equal(url.hostname, `sts.${region}.amazonaws.com`);
  assert.equal(url.pathname, '/');
  const q = url.searchParams;
  assert.equal(q.get('Action'), 'GetCallerIdentity');
  assert.equal(q.get('Version'), '2011-06-15');
  assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  assert.equal(q.get('X-Amz-Credential'), `${creds.accessKeyId}/20261123/${region}/sts/aws4_request`);
  assert.equal(q.get('X-Amz-Date'), '20261123T100000Z');
  assert.equal(q.get('X-Amz-Expires'), '60');
  assert.equal(q.get('X-Amz-SignedHeaders'), 'host;x-k8s-aws-id');
  assert.equal(q.get('x-k8s-aws-id'), null, 'the cluster id is a signed header, not a query parameter');
  assert.equal(q.get('X-Amz-Signature'), expectedSignature(url, creds.secretAccessKey));
  // Pinned: any change in what is signed changes this.
  assert.equal(q.get('X-Amz-Signature'), 'ca0526ab31a0f885263581a8729efc2c8ca7588c4f0fc0e40dbbcf648c240694');
});

test('session credentials add X-Amz-Security-Token, still verifiable', async () => {
  const url = decode(await eksToken({ clusterName: cluster, region, credentials: session, date }));
  assert.equal(url.searchParams.get('X-Amz-Security-Token'), session.sessionToken);
  assert.equal(url.searchParams.get('X-Amz-Signature'), expectedSignature(url, session.secretAccessKey));
});

test('a container caches its token for 14 minutes, then mints a new one', async () => {
  let now = date.getTime();
  let calls = 0;
  const provider = eksTokenProvider({ clusterName: cluster, region, credentials: async () => (calls++, creds), now: () => now });
  const first = await provider();
  assert.equal(await provider(), first);
  now += 13 * 60_000 + 59_000;
  assert.equal(await provider(), first, 'still cached at 13m59s');
  assert.equal(calls, 1);
  now += 1_000;
  const second = await provider();
  assert.notEqual(second, first, 'refreshed at 14 minutes');
  assert.equal(decode(second).searchParams.get('X-Amz-Date'), '20261123T101400Z');
  assert.equal(calls, 2);
});

test('concurrent callers share one signing; a failed signing is not cached', async () => {
  let calls = 0;
  let fail = true;
  const provider = eksTokenProvider({
    clusterName: cluster, region, now: () => date.getTime(),
    credentials: async () => {
      calls++;
      if (fail) throw new Error('no credentials yet');
      return creds;
    },
  });
  await assert.rejects(provider(), /no credentials yet/);
  fail = false;
  const [a, b] = await Promise.all([provider(), provider()]);
  assert.equal(a, b);
  assert.equal(calls, 2);
});

test('DescribeCluster gives endpoint and CA (decoded to PEM), once per container', async () => {
  const eksMock = mockClient(EKSClient);
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  eksMock.on(DescribeClusterCommand, { name: cluster }).resolves({
    cluster: { name: cluster, endpoint: 'https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com', certificateAuthority: { data: Buffer.from(pem).toString('base64') } },
  });
  const eks = new EKSClient({ region, credentials: creds });
  const ep = await eksEndpoint({ clusterName: cluster, region, eks, credentials: creds, now: () => date.getTime() });
  assert.equal(ep.server, 'https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com');
  assert.deepEqual(ep.ca, { pem });
  assert.equal(typeof ep.token, 'function');
  const token = await (ep.token as () => Promise<string>)();
  assert.equal(token, await eksToken({ clusterName: cluster, region, credentials: creds, date }));
  await describeEksCluster(eks, cluster);
  assert.equal(eksMock.commandCalls(DescribeClusterCommand).length, 1);
  eksMock.restore();
});

test('a cluster without endpoint is a clear ComputeUnavailable, and not cached', async () => {
  const eksMock = mockClient(EKSClient);
  eksMock.on(DescribeClusterCommand).resolvesOnce({ cluster: { name: cluster, status: 'CREATING' } }).resolves({
    cluster: { name: cluster, endpoint: 'https://x.eks.amazonaws.com', certificateAuthority: { data: Buffer.from('pem').toString('base64') } },
  });
  const eks = new EKSClient({ region, credentials: creds });
  await assert.rejects(describeEksCluster(eks, cluster), (e: Error) => e.name === 'ComputeUnavailable' && /no endpoint or CA/.test(e.message));
  assert.equal((await describeEksCluster(eks, cluster)).endpoint, 'https://x.eks.amazonaws.com');
  eksMock.restore();
});
