// Where a local home keeps things: the one place the layout is spelled out (the session, the run history, the
// MLflow command and the tests all read it from here).
//
//   <home>/bucket/artifacts/<pipeline>/<runId>/…  what the S3 bucket holds on AWS (run.json, stage results, logs)
//   <home>/bucket/mlflow/                         the local MLflow server's artifact store
//   <home>/logs/                                  the Ray head's, MLflow's and the handlers' logs
//   <home>/ray-head.json                          the running Ray head (its temp dir and pid), for cleanup
import { join } from 'node:path';

export interface HomeLayout {
  home: string;
  bucket: string;
  artifactRoot: string;
  mlflowArtifacts: string;
  logDir: string;
  rayHeadRecord: string;
}

export function homeLayout(home: string): HomeLayout {
  const bucket = join(home, 'bucket');
  return {
    home,
    bucket,
    artifactRoot: join(bucket, 'artifacts'),
    mlflowArtifacts: join(bucket, 'mlflow'),
    logDir: join(home, 'logs'),
    rayHeadRecord: join(home, 'ray-head.json'),
  };
}
