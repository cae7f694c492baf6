// The few SST v3 globals sst.config.ts uses, for typechecking offline. sst.config.ts references
// .sst/platform/config.d.ts, which SST writes on its first (online) run with the full set; until then
// scripts/bootstrap.sh writes a stand-in there that references this file (SST replaces the folder on install). The
// root tsconfig excludes this file so it never clashes with SST's own declarations. Shapes follow SST's Global
// reference ($config, $app, $cli).
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
