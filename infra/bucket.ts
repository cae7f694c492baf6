// The artifacts bucket: datasets/ (uploads start runs), pipelines/ (deployed specs), artifacts/ (run outputs).
//
// Encryption: S3-managed keys (SSE-S3), not KMS. The bucket is read and written by principals outside this stack's
// control (the Ray pods' role on an existing cluster, people uploading datasets); with SSE-KMS each of them would
// also need kms:Decrypt/GenerateDataKey on a key policy kept in step, and S3 → EventBridge is unaffected either
// way. Data is still encrypted at rest; switch to aws:kms with a customer key if your compliance requires one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { s3 } from '@pulumi/aws';
import { parseSpec } from '../core/spec.js';
import type { SentinelConfig } from './config.js';
import { bucketPolicyDocument, type DeploymentArns } from './iam.js';

export interface PipelineSpecFile {
  name: string;
  key: string;
  path: string;
  image: string;
}

/** Reads and validates every configured spec (a bad spec fails the deploy, not the first run). */
export function pipelineSpecFiles(cfg: SentinelConfig, root: string): PipelineSpecFile[] {
  return cfg.pipelines.map((p) => {
    const path = join(root, p.specFile);
    const spec = parseSpec(readFileSync(path, 'utf8'), p.specFile);
    if (spec.name !== p.name) throw new Error(`infra/config.ts: pipeline "${p.name}" points at ${p.specFile}, whose name is "${spec.name}"`);
    return { name: p.name, key: `pipelines/${p.name}.yaml`, path, image: spec.image };
  });
}

export function createBucket(cfg: SentinelConfig, arns: pulumi.Output<DeploymentArns>, specs: PipelineSpecFile[]) {
  const bucket = new s3.BucketV2('ArtifactsBucket', {
    bucket: arns.bucketName,
    // Without retainData, `sst remove` empties and deletes it (datasets and models included).
    forceDestroy: !cfg.retainData,
  }, { retainOnDelete: cfg.retainData });

  const publicAccess = new s3.BucketPublicAccessBlock('ArtifactsBucketPublicAccess', {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  const ownership = new s3.BucketOwnershipControls('ArtifactsBucketOwnership', { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } });
  const encryption = new s3.BucketServerSideEncryptionConfigurationV2('ArtifactsBucketEncryption', {
    bucket: bucket.id,
    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
  });
  // Versions name each upload (run ids prefer the version id) and let an overwritten champion.json be recovered.
  const versioning = new s3.BucketVersioningV2('ArtifactsBucketVersioning', { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } });
  const lifecycle = new s3.BucketLifecycleConfigurationV2(
    'ArtifactsBucketLifecycle',
    {
      bucket: bucket.id,
      rules: [
        { id: 'expire-old-versions', status: 'Enabled', filter: {}, noncurrentVersionExpiration: { noncurrentDays: 30 } },
        { id: 'abort-incomplete-uploads', status: 'Enabled', filter: {}, abortIncompleteMultipartUpload: { daysAfterInitiation: 2 } },
      ],
    },
    { dependsOn: [versioning] },
  );
  // Object Created events go to EventBridge, where the dataset-uploaded rule picks the datasets/ prefix.
  const notifications = new s3.BucketNotification('ArtifactsBucketNotifications', { bucket: bucket.id, eventbridge: true });
  const policy = new s3.BucketPolicy(
    'ArtifactsBucketPolicy',
    { bucket: bucket.id, policy: arns.apply((a) => JSON.stringify(bucketPolicyDocument(a))) },
    { dependsOn: [publicAccess] },
  );
  const specObjects = specs.map(
    (s) =>
      new s3.BucketObjectv2(`PipelineSpec-${s.name}`, {
        bucket: bucket.id,
        key: s.key,
        source: new pulumi.asset.FileAsset(s.path),
        contentType: 'application/yaml',
      }),
  );
  return { bucket, publicAccess, ownership, encryption, versioning, lifecycle, notifications, policy, specObjects };
}
