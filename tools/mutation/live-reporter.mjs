// A Stryker reporter (`reporters: [..., 'live']`) that appends each tested mutant to reports/mutation/live.jsonl as
// it completes: survivors can be read (and tests written) while a long run is still going, and a run cut short
// still says what it measured. `node tools/mutation/summary.mjs --live` scores that file.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { declareClassPlugin, PluginKind } from '@stryker-mutator/api/plugin';

const DIR = process.env.SENTINEL_MUTATION_DIR ?? 'reports/mutation';
export const LIVE_FILE = `${DIR}/live.jsonl`;

class LiveReporter {
  constructor() {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(LIVE_FILE, '');
  }

  onMutantTested(m) {
    const { fileName, location, mutatorName, replacement, status, statusReason } = m;
    const line = { file: relative(process.cwd(), fileName), location, mutatorName, replacement, status };
    if (status === 'Survived' || status === 'NoCoverage') line.statusReason = statusReason;
    appendFileSync(LIVE_FILE, JSON.stringify(line) + '\n');
  }
}

export const strykerPlugins = [declareClassPlugin(PluginKind.Reporter, 'live', LiveReporter)];
