// The versions a deploy must run with, and the check that refuses any other. infra/ is written and tested against
// the @pulumi/aws that SST 3.19.3 ships (its platform's package.json: @pulumi/aws 6.66.2, @pulumi/pulumi 3.210.0);
// package.json pins sst 3.19.3 and exactly those two for the tests, so what test/infra checks is what deploys.
// In SST's build, infra/'s imports of @pulumi/* resolve to SST's own copies, so the version read at deploy time is
// the one SST brought: a different SST (4.x ships @pulumi/aws 7) fails here, with what to do, before any resource.

export const PINNED = {
  sst: '3.19.3',
  pulumiAws: '6.66.2',
  pulumiPulumi: '3.210.0',
} as const;

export class VersionMismatch extends Error {
  override readonly name = 'VersionMismatch';
}

const major = (v: string) => Number.parseInt(v.replace(/^v/, '').split('.')[0] ?? '', 10);

/**
 * Checks the @pulumi/aws version a deploy resolved. A different major is refused (infra/ uses the v6 API); a
 * different 6.x is refused too, because the tests ran against exactly PINNED.pulumiAws.
 */
export function checkPulumiAws(resolved: string): void {
  const want = PINNED.pulumiAws;
  if (resolved.replace(/^v/, '') === want) return;
  const why =
    major(resolved) !== major(want)
      ? `infra/ is written against the @pulumi/aws ${major(want)}.x API`
      : `the tests (test/infra) ran against @pulumi/aws ${want} exactly`;
  throw new VersionMismatch(
    `This deploy resolved @pulumi/aws ${resolved}, but ${why}, the version SST ${PINNED.sst} ships. ` +
      `Deploy with the pinned CLI from this repository: run \`npm ci\` and then \`npx sst deploy --stage <stage>\` ` +
      `(package.json pins sst ${PINNED.sst}; a global or unpinned \`sst\` may be another release). To move to another ` +
      `SST, change PINNED in infra/versions.ts and the @pulumi/* pins in package.json together, and rerun test/infra.`,
  );
}

/** Called first in sst.config.ts run(). */
export async function assertDeployVersions(): Promise<void> {
  const { getVersion } = await import('@pulumi/aws/utilities.js');
  checkPulumiAws(getVersion());
}
