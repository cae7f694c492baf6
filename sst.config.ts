/// <reference path="./.sst/platform/config.d.ts" />
// SST v3 entry point: `sst deploy --stage <stage>` / `sst remove --stage <stage>`.
//
// Why plain @pulumi/aws resources (infra/) and no SST components: SST v3 runs this file as a Pulumi program, so
// aws.* resources deploy exactly like its own components do; but SST's component types exist only after SST has
// downloaded its platform (online), while @pulumi/aws is an ordinary npm package. Written this way, every resource,
// every IAM document and every wire between them typechecks and is tested offline (test/infra, Pulumi mocks), and
// least privilege is ours to generate rather than a component's default. infra/ is written against the v6 API of
// @pulumi/aws, the AWS provider major SST v3 ships; in SST's build, infra/'s imports of @pulumi/* and esbuild
// resolve to SST's own copies. The globals come from SST's .sst/platform/config.d.ts (offline: a stand-in
// that scripts/bootstrap.sh writes, pointing at infra/sst-offline.d.ts).
//
// Versions: package.json pins sst 3.19.3, so `npx sst` runs that CLI (without a pin npx fetches 4.x, which ships
// @pulumi/aws 7). SST 3.19.3 ships @pulumi/aws 6.66.2 and @pulumi/pulumi 3.210.0, and the tests use exactly those;
// run() refuses to deploy with any other @pulumi/aws (infra/versions.ts).
export default $config({
  app(input) {
    return {
      name: 'sentinel',
      home: 'aws',
      // Production keeps its resources on `sst remove` and cannot be removed by accident.
      removal: input?.stage === 'production' ? 'retain' : 'remove',
      protect: input?.stage === 'production',
      // Must match infra/config.ts (the deploy refuses a mismatch): both default to AWS_REGION.
      providers: { aws: { region: process.env.AWS_REGION ?? 'us-east-1' } },
    };
  },
  async run() {
    const { assertDeployVersions } = await import('./infra/versions.js');
    await assertDeployVersions();
    const { sentinelConfig } = await import('./infra/config.js');
    const { sentinel } = await import('./infra/index.js');
    const stack = sentinel({ config: sentinelConfig($app.stage), root: $cli.paths.root });
    return stack.outputs;
  },
});
