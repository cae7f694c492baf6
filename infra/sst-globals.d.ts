// The few SST v3 globals sst.config.ts uses, declared here so the project typechecks offline. SST generates the
// full set in .sst/platform/config.d.ts on its first (online) run; do not also reference that file, or these
// declarations will clash with it. Shapes follow SST's Global reference ($config, $app, $cli).
interface SentinelSstAppInput {
  stage?: string;
}
interface SentinelSstApp {
  name: string;
  home: 'aws' | 'cloudflare' | 'local';
  removal?: 'remove' | 'retain' | 'retain-all';
  protect?: boolean;
  providers?: Record<string, unknown>;
}
interface SentinelSstConfig {
  app(input: SentinelSstAppInput): SentinelSstApp;
  run(): Promise<Record<string, unknown> | void>;
}

declare const $config: (config: SentinelSstConfig) => SentinelSstConfig;
declare const $app: { name: string; stage: string; removal: 'remove' | 'retain' | 'retain-all'; protect: boolean };
declare const $cli: { command: string; dev: boolean; paths: { home: string; root: string; work: string; platform: string } };
