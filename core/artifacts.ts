// Artifact layout: <root>/<pipeline>/<runId>/<stage>/… with a result.json per stage. <root> is s3://bucket/prefix
// in AWS and a local folder locally; both are plain URI strings here, joined with '/'.

export const joinUri = (...parts: string[]) =>
  parts
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .filter((p) => p.length > 0)
    .join('/');

export const runUri = (root: string, pipeline: string, runId: string) => joinUri(root, pipeline, runId);
export const stageUri = (root: string, pipeline: string, runId: string, stage: string) => joinUri(root, pipeline, runId, stage);
export const resultUri = (root: string, pipeline: string, runId: string, stage: string) =>
  joinUri(stageUri(root, pipeline, runId, stage), 'result.json');
export const runRecordUri = (root: string, pipeline: string, runId: string) => joinUri(runUri(root, pipeline, runId), 'run.json');
/** The pipeline's serving champion and the one before it (for rollback). */
export const championUri = (root: string, pipeline: string) => joinUri(root, pipeline, 'champion.json');
