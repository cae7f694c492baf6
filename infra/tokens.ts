// Task tokens between submit-stage and the completion consumer: one item per job id, expiring by TTL (see
// adapters/aws/dynamo-tokens.ts). On-demand billing: a handful of writes per run, nothing while idle. Encrypted at
// rest with DynamoDB's default AWS-owned key; tokens are short-lived and never leave AWS.
import { dynamodb } from '@pulumi/aws';
import type { ResourceNames } from './config.js';

// The adapter's key and TTL attribute (test/infra asserts they match). Not imported: infra must not load the AWS
// SDK, which SST resolves from its own platform folder at deploy time.
export const TOKEN_KEY = 'jobId';
export const TTL_ATTRIBUTE = 'expiresAt';

export function createTokensTable(names: ResourceNames) {
  return new dynamodb.Table('TaskTokens', {
    name: names.tokensTable,
    billingMode: 'PAY_PER_REQUEST',
    hashKey: TOKEN_KEY,
    attributes: [{ name: TOKEN_KEY, type: 'S' }],
    ttl: { attributeName: TTL_ATTRIBUTE, enabled: true },
  });
}
