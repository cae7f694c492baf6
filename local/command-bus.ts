// A run-events bus for a command that changes a pipeline outside a session (`sentinel rollback` with no `sentinel run`
// live): the deployment's own rule for run events (events/routes.ts, `run-events-notify`) to the same notify handler a
// session's bus feeds, so the pipeline's deployed spec decides who hears of it, as on AWS. Every event put on it stays
// in `bus.log` for the command to record. The handler's logs and metrics go where a session's go (<home>/logs/
// handlers.log, the run's metrics.jsonl), never to the command's stdout; a notification that fails is collected in
// `failures` (the handler's error name and message, never the webhook URL), not thrown: the event is an announcement.
import { Console } from 'node:console';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { routesFor } from '../events/routes.js';
import { createNotifyHandler } from '../functions/notify.js';
import { logger } from '../functions/lib/logger.js';
import { useMetricsSink } from '../functions/lib/metrics.js';
import { HttpWebhook } from '../adapters/http/webhook.js';
import { LocalEventBus } from './event-bus.js';
import { lambdaContext } from './lambda-context.js';
import { RunFolderMetricsSink } from './metrics-sink.js';
import { LocalObjectStore } from './object-store.js';
import { LOCAL_BUCKET } from './runtime.js';

export interface CommandBus {
  bus: LocalEventBus;
  /** Why a notification was not sent, one entry per failed delivery. */
  failures: string[];
  /** Puts the handler logger and metrics back (idempotent). */
  close(): Promise<void>;
}

export function commandBus(o: { home: string; bucketUri: string; artifactRoot: string }): CommandBus {
  const logDir = join(o.home, 'logs');
  mkdirSync(logDir, { recursive: true });
  const stream = createWriteStream(join(logDir, 'handlers.log'), { flags: 'a' });
  // Powertools has no destination option; its console is the one seam (as local/runtime.ts uses it).
  const seam = logger as unknown as { console: Console };
  const previous = seam.console;
  seam.console = new Console({ stdout: stream, stderr: stream });
  const sink = new RunFolderMetricsSink({ artifactRoot: o.artifactRoot, home: o.home });
  const undoMetrics = useMetricsSink((line) => sink.write(line));

  const bus = new LocalEventBus();
  const notify = createNotifyHandler({ store: new LocalObjectStore(), bucketUri: o.bucketUri, artifactRoot: o.artifactRoot, webhook: new HttpWebhook(), publisher: bus });
  const failures: string[] = [];
  for (const route of routesFor({ bucket: LOCAL_BUCKET, pipelines: [] })) {
    if (route.target !== 'notify') continue;
    bus.addRule({
      name: route.name,
      pattern: route.pattern,
      target: async (e) => {
        await notify(e, lambdaContext('sentinel-local-notify')).catch((err: Error) => {
          failures.push(`${err.name}: ${err.message}`);
        });
      },
    });
  }
  let closed = false;
  return {
    bus,
    failures,
    close: async () => {
      if (closed) return;
      closed = true;
      undoMetrics();
      seam.console = previous;
      await new Promise<void>((resolve) => stream.end(() => resolve()));
    },
  };
}
