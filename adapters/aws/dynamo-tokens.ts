// TokenStore over DynamoDB: one item per job id, { jobId, token, expiresAt }. expiresAt is the table's TTL
// attribute, so tokens of runs that never completed disappear on their own; since TTL deletion is lazy (it can
// lag by days), get() also treats an expired item as absent.
import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TokenStore } from '../../core/ports.js';

export const TOKEN_KEY = 'jobId';
export const TTL_ATTRIBUTE = 'expiresAt';
/** Longer than the longest run (the state machine's TimeoutSeconds is 3 days). */
export const DEFAULT_TOKEN_TTL_SECONDS = 4 * 24 * 3600;

export interface DynamoTokenStoreOptions {
  table: string;
  ttlSeconds?: number;
  now?: () => number;
}

export class DynamoTokenStore implements TokenStore {
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(
    private readonly ddb: DynamoDBClient,
    private readonly opts: DynamoTokenStoreOptions,
  ) {
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
    this.now = opts.now ?? Date.now;
  }

  private get nowSeconds() {
    return Math.floor(this.now() / 1000);
  }

  async put(jobId: string, token: string) {
    await this.ddb.send(
      new PutItemCommand({
        TableName: this.opts.table,
        Item: { [TOKEN_KEY]: { S: jobId }, token: { S: token }, [TTL_ATTRIBUTE]: { N: String(this.nowSeconds + this.ttlSeconds) } },
      }),
    );
  }

  async get(jobId: string) {
    // Strongly consistent: a job can end (and its event be consumed) moments after submit-stage parked the token.
    const res = await this.ddb.send(new GetItemCommand({ TableName: this.opts.table, Key: { [TOKEN_KEY]: { S: jobId } }, ConsistentRead: true }));
    const item = res.Item;
    if (!item?.token?.S) return undefined;
    const expiresAt = Number(item[TTL_ATTRIBUTE]?.N ?? Infinity);
    return expiresAt > this.nowSeconds ? item.token.S : undefined;
  }

  async delete(jobId: string) {
    await this.ddb.send(new DeleteItemCommand({ TableName: this.opts.table, Key: { [TOKEN_KEY]: { S: jobId } } }));
  }
}
