// scratch: serve a model folder through LocalSession + serveApplicationFor, keep serving until SIGTERM
import { join } from 'node:path';
import { LocalSession } from '../local/session.js';
import { serveApplicationFor } from '../core/serve-config.js';
const repoRoot = join(import.meta.dirname, '..');
const [specName, modelDir, port] = process.argv.slice(2) as [string, string, string];
const session = await LocalSession.open({ home: '/tmp/s11/home', pythonEnv: join(repoRoot, '.venv'), servePort: Number(port) });
const spec = session.loadSpec(join(repoRoot, 'pipelines', `${specName}.yaml`));
const app = serveApplicationFor(spec, { modelUri: modelDir, runId: 'rscratch' });
console.log(JSON.stringify(app));
await session.serving.apply(spec.name, { applications: [app] });
for (;;) { const s = await session.serving.status(spec.name); if (s.state === 'RUNNING') break; if (s.state==='DEPLOY_FAILED') { console.log(s); break; } await new Promise(r => setTimeout(r, 500)); }
console.log('READY', session.endpoint(spec), session.head.dashboard.url, session.head.dashboard.token);
const stop = async () => { await session.close(); process.exit(0); };
process.on('SIGTERM', stop); process.on('SIGINT', stop);
await new Promise(() => undefined);
