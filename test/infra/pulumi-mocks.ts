// Pulumi's runtime mocks for the infra tests: every resource registration is recorded with its resolved inputs, and
// each resource gets the ARN AWS would give it (from its name), so tests can check that the ARNs the IAM module
// derives from names are the ARNs of the resources actually created.
import * as pulumi from '@pulumi/pulumi';

export const ACCOUNT = '123456789012';

export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

function arnFor(type: string, inputs: Record<string, any>, name: string, region: string): string {
  const n = inputs.name ?? name;
  const a = (service: string, resource: string) => `arn:aws:${service}:${region}:${ACCOUNT}:${resource}`;
  switch (type) {
    case 'aws:s3/bucketV2:BucketV2':
      return `arn:aws:s3:::${inputs.bucket}`;
    case 'aws:iam/role:Role':
      return `arn:aws:iam::${ACCOUNT}:role/${n}`;
    case 'aws:lambda/function:Function':
      return a('lambda', `function:${n}`);
    case 'aws:sqs/queue:Queue':
      return a('sqs', n);
    case 'aws:dynamodb/table:Table':
      return a('dynamodb', `table/${n}`);
    case 'aws:sfn/stateMachine:StateMachine':
      return a('states', `stateMachine:${n}`);
    case 'aws:cloudwatch/eventRule:EventRule':
      return a('events', `rule/${n}`);
    case 'aws:cloudwatch/logGroup:LogGroup':
      return a('logs', `log-group:${n}`);
    case 'aws:sns/topic:Topic':
      return a('sns', n);
    case 'aws:scheduler/schedule:Schedule':
      return a('scheduler', `schedule/default/${n}`);
    default:
      return a(type.split(':')[1]!.split('/')[0]!, name);
  }
}

/** Installs the mocks; returns the (growing) list of registrations. */
export function installMocks(region: string): Recorded[] {
  const recorded: Recorded[] = [];
  pulumi.runtime.setMocks(
    {
      newResource(args) {
        const arn = arnFor(args.type, args.inputs, args.name, region);
        const state: Record<string, any> = { ...args.inputs, arn };
        let id = `${args.name}-id`;
        if (args.type === 'aws:sqs/queue:Queue') id = `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${args.inputs.name}`;
        if (args.type === 'aws:s3/bucketV2:BucketV2') id = args.inputs.bucket;
        if (args.type === 'aws:iam/role:Role' || args.type === 'aws:lambda/function:Function') id = args.inputs.name;
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs, state });
        return { id, state };
      },
      call(args) {
        switch (args.token) {
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: 'test', id: ACCOUNT };
          case 'aws:index/getPartition:getPartition':
            return { partition: 'aws', dnsSuffix: 'amazonaws.com', id: 'aws' };
          case 'aws:index/getRegion:getRegion':
            return { name: region, id: region, description: region, endpoint: `ec2.${region}.amazonaws.com` };
          default:
            throw new Error(`unmocked call ${args.token}`);
        }
      },
    },
    'sentinel',
    'test',
    false,
  );
  return recorded;
}

/** Resolves once every resource reachable from `root` is registered (its URN resolved). */
export async function settled(root: unknown): Promise<void> {
  const seen = new Set<unknown>();
  const urns: Array<Promise<unknown>> = [];
  const visit = (x: unknown) => {
    if (!x || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    if (pulumi.Resource.isInstance(x)) {
      urns.push(new Promise((resolve) => x.urn.apply(resolve)));
      return;
    }
    if (pulumi.Output.isInstance(x)) return;
    for (const v of Array.isArray(x) ? x : Object.values(x)) visit(v);
  };
  visit(root);
  await Promise.all(urns);
}

/** The resolved value of an Output. */
export const valueOf = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply((v) => resolve(v)));
