// Authenticating a Lambda to EKS without kubeconfig or the aws CLI: DescribeCluster gives the API endpoint and CA; the
// bearer token is what `aws eks get-token` prints, 'k8s-aws-v1.' + base64url (no padding) of a presigned STS
// GetCallerIdentity URL whose signed headers include `x-k8s-aws-id: <cluster>`. EKS accepts a token for 15 minutes
// after its X-Amz-Date, so each container caches one and mints a new one after 14.
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { KubeEndpoint } from '../kuberay/client.js';
import { ErrorNames, SentinelError } from '../../core/errors.js';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
/** The presigned URL's own expiry, as aws-iam-authenticator and `aws eks get-token` set it. */
export const PRESIGN_EXPIRES_SECONDS = 60;
/** EKS honours a token for 15 minutes; refresh with a minute to spare. */
export const TOKEN_REFRESH_MS = 14 * 60_000;

type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

const stsHost = (region: string) => `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

/** RFC 3986 encoding, as SigV4 canonicalizes: encodeURIComponent leaves !'()* alone. */
const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The presigned GetCallerIdentity URL (what the token encodes). */
export async function presignedCallerIdentityUrl(o: { clusterName: string; region: string; credentials: Credentials; date: Date }): Promise<string> {
  const hostname = stsHost(o.region);
  const signer = new SignatureV4({ credentials: o.credentials, region: o.region, service: 'sts', sha256: Sha256 });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      // Signed, and not hoisted into the query: EKS checks the token was minted for this cluster.
      headers: { host: hostname, 'x-k8s-aws-id': o.clusterName },
    },
    { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: o.date },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as const) : v == null ? [] : [[k, v] as const]))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join('&');
  return `https://${hostname}/?${query}`;
}

export async function eksToken(o: { clusterName: string; region: string; credentials: Credentials; date: Date }): Promise<string> {
  return TOKEN_PREFIX + Buffer.from(await presignedCallerIdentityUrl(o)).toString('base64url');
}

export interface EksTokenProviderOptions {
  clusterName: string;
  region: string;
  credentials: Credentials;
  now?: () => number;
}

/** Per container (module scope): Lambda reuses warm containers, and one token serves every call for 14 minutes. */
const tokenCache = new Map<string, { mintedAt: number; token: Promise<string> }>();

export function eksTokenProvider(o: EksTokenProviderOptions): () => Promise<string> {
  const now = o.now ?? Date.now;
  const key = `${o.region}/${o.clusterName}`;
  return async () => {
    const t = now();
    const cached = tokenCache.get(key);
    if (cached && t - cached.mintedAt < TOKEN_REFRESH_MS) return cached.token;
    // Concurrent callers share one signing; a failed signing is not cached.
    const token = eksToken({ clusterName: o.clusterName, region: o.region, credentials: o.credentials, date: new Date(t) });
    tokenCache.set(key, { mintedAt: t, token });
    token.catch(() => tokenCache.get(key)?.token === token && tokenCache.delete(key));
    return token;
  };
}

/** For tests: forget cached tokens and cluster descriptions. */
export function clearEksCaches() {
  tokenCache.clear();
  clusterCache.clear();
}

const clusterCache = new Map<string, Promise<{ endpoint: string; caPem: string }>>();

/** Endpoint and CA (PEM) of an EKS cluster, described once per container. */
export function describeEksCluster(eks: EKSClient, clusterName: string): Promise<{ endpoint: string; caPem: string }> {
  let p = clusterCache.get(clusterName);
  if (!p) {
    p = eks.send(new DescribeClusterCommand({ name: clusterName })).then((res) => {
      const endpoint = res.cluster?.endpoint;
      const ca = res.cluster?.certificateAuthority?.data;
      if (!endpoint || !ca) throw new SentinelError(ErrorNames.ComputeUnavailable, 'DescribeCluster returned no endpoint or CA (is the cluster ACTIVE?)', `EKS cluster ${clusterName}`);
      return { endpoint, caPem: Buffer.from(ca, 'base64').toString('utf8') };
    });
    p.catch(() => clusterCache.delete(clusterName));
    clusterCache.set(clusterName, p);
  }
  return p;
}

/** Everything KubeClient.forEndpoint needs to talk to an EKS cluster as the Lambda's IAM role. */
export async function eksEndpoint(o: { clusterName: string; region: string; eks?: EKSClient; credentials?: Credentials; now?: () => number }): Promise<KubeEndpoint> {
  const eks = o.eks ?? new EKSClient({ region: o.region });
  const { endpoint, caPem } = await describeEksCluster(eks, o.clusterName);
  const credentials = o.credentials ?? eks.config.credentials;
  return {
    server: endpoint,
    ca: { pem: caPem },
    token: eksTokenProvider({ clusterName: o.clusterName, region: o.region, credentials, ...(o.now ? { now: o.now } : {}) }),
  };
}
