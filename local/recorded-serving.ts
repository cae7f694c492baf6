// Serving when no local session is up: nothing serves on this machine until the next `sentinel run`, which
// re-applies champion.json's serve config (restoreChampion). A rollback then only has to change the record; this
// port takes the config core's rollback() applies, reports it as the one deployed, and serves nothing.
import type { ServeStatus, ServingPort } from '../core/ports.js';
import type { ServeConfig } from '../core/serve-config.js';

export class RecordedServing implements ServingPort {
  private applied = new Map<string, string | undefined>();
  constructor(private readonly port: number) {}

  async apply(pipeline: string, config: ServeConfig) {
    const app = (config.applications as Array<{ name?: string; args?: { run_id?: string } }>).find((a) => a.name === pipeline) ?? config.applications[0];
    this.applied.set(pipeline, (app as { args?: { run_id?: string } } | undefined)?.args?.run_id);
  }

  async status(pipeline: string): Promise<ServeStatus> {
    if (!this.applied.has(pipeline)) return { state: 'NOT_STARTED' };
    const runId = this.applied.get(pipeline);
    return { state: 'RUNNING', ...(runId ? { runId } : {}), message: 'recorded only: the next session serves it' };
  }

  endpoint(_pipeline: string, route: string) {
    return `http://127.0.0.1:${this.port}${route}`;
  }
}
