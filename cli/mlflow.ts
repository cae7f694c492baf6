// `sentinel mlflow`: the MLflow UI over what local runs tracked (the SQLite store and artifacts `sentinel run` uses),
// on 127.0.0.1 until Ctrl-C, which stops the server and leaves no process behind.
import { join } from 'node:path';
import { startMlflowServer, stopStaleMlflow } from '../local/mlflow-server.js';
import { bold, dim, yellow } from './format.js';
import { pythonEnvFor } from './session-command.js';
import { homeLayout } from '../local/home-layout.js';

export async function mlflowCommand(o: { repoRoot: string; home: string; port: number }): Promise<number> {
  await stopStaleMlflow(o.home);
  process.stdout.write(dim(`  starting the MLflow server over ${join(o.home, 'mlflow')} …\n`));
  const server = await startMlflowServer({
    pythonEnv: pythonEnvFor(o.repoRoot),
    home: o.home,
    artifactsDir: homeLayout(o.home).mlflowArtifacts,
    logFile: join(homeLayout(o.home).logDir, 'mlflow-server.log'),
    port: o.port,
  });
  process.stdout.write(`${bold('MLflow')} ${server.uri}  ${dim('(experiments are named after the pipelines; registered models too) — Ctrl-C to stop')}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.stderr.write(`\n${yellow('Stopping')} the MLflow server …\n`);
      void server.stop().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
