// Reads Stryker's JSON report and prints the score per file, per folder and overall, then checks the survivors
// against test/mutation-survivors.md: a survivor without a line there is unexplained, a line whose mutant no
// longer survives is stale. Usage: node tools/mutation/summary.mjs [reports/mutation/mutation.json | --live]
//
// Score = (killed + timeout) / (killed + timeout + survived + no coverage), Stryker's "mutation score". Compile
// and runtime errors, ignored mutants and mutants not run yet ("not run": an interrupted run's partial
// reports/mutation/incremental.json can be read too) are not counted.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';

const arg = process.argv[2] === '--live' ? 'reports/mutation/live.jsonl' : process.argv[2];
const reportFile = arg ?? 'reports/mutation/mutation.json';
const survivorsFile = 'test/mutation-survivors.md';
/** Stryker's JSON report, or the live reporter's lines (tools/mutation/live-reporter.mjs) of a run under way. */
function readReport(file) {
  if (!file.endsWith('.jsonl')) return JSON.parse(readFileSync(file, 'utf8'));
  const files = {};
  for (const l of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const m = JSON.parse(l);
    files[m.file] ??= { source: readFileSync(m.file, 'utf8'), mutants: [] };
    files[m.file].mutants.push(m);
  }
  return { files };
}
const report = readReport(reportFile);

const rows = [];
const survivors = [];
for (const [file, { mutants, source }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
  const c = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 };
  const lines = source.split('\n');
  for (const m of mutants) {
    const s = m.status;
    if (s === 'Killed') c.killed++;
    else if (s === 'Timeout') c.timeout++;
    else if (s === 'Survived') c.survived++;
    else if (s === 'NoCoverage') c.noCoverage++;
    else c.other++;
    if (s === 'Survived' || s === 'NoCoverage') {
      const { line, column } = m.location.start;
      survivors.push({ key: `${file}:${line}:${column} ${m.mutatorName}`, status: s, replacement: m.replacement ?? '', code: (lines[line - 1] ?? '').trim() });
    }
  }
  rows.push({ file, ...c });
}

const score = (r) => {
  const valid = r.killed + r.timeout + r.survived + r.noCoverage;
  return valid ? (100 * (r.killed + r.timeout)) / valid : 100;
};
const sum = (rs) => rs.reduce((a, r) => ({ killed: a.killed + r.killed, timeout: a.timeout + r.timeout, survived: a.survived + r.survived, noCoverage: a.noCoverage + r.noCoverage, other: a.other + r.other }), { killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 });
const fmt = (name, r) =>
  `${name.padEnd(34)} ${String(r.killed).padStart(6)} ${String(r.timeout).padStart(7)} ${String(r.survived).padStart(8)} ${String(r.noCoverage).padStart(6)} ${score(r).toFixed(1).padStart(6)} %${r.other ? `  (${r.other} not run)` : ''}`;

console.log(`${'file'.padEnd(34)} ${'killed'.padStart(6)} ${'timeout'.padStart(7)} ${'survived'.padStart(8)} ${'no cov'.padStart(6)} ${'score'.padStart(8)}`);
for (const r of rows) console.log(fmt(r.file, r));
console.log('');
const folders = [...new Set(rows.map((r) => r.file.split('/')[0]))];
for (const f of folders) console.log(fmt(`${f}/`, sum(rows.filter((r) => r.file.startsWith(`${f}/`)))));
const all = sum(rows);
console.log(fmt('all', all));

// The survivors file: one line per survivor, "- `<file>:<line>:<column> <Mutator>` … — <reason>".
let listed = new Map();
try {
  for (const l of readFileSync(survivorsFile, 'utf8').split('\n')) {
    const m = /^- `([^`]+)`.*—\s*(.+)$/.exec(l);
    if (m) listed.set(m[1], m[2]);
  }
} catch {
  listed = new Map();
}
const unexplained = survivors.filter((s) => !listed.has(s.key));
const stale = [...listed.keys()].filter((k) => !survivors.some((s) => s.key === k));
console.log(`\n${survivors.length} survivor(s); ${survivors.length - unexplained.length} explained in ${survivorsFile}, ${unexplained.length} not, ${stale.length} stale line(s) there.`);
for (const s of unexplained) console.log(`  unexplained: \`${s.key}\` (${s.status}) ${s.replacement ? `→ ${JSON.stringify(s.replacement).slice(0, 60)}` : ''}  in: ${s.code.slice(0, 90)}`);
for (const k of stale) console.log(`  stale: \`${k}\``);
console.log(`\nHTML report: ${dirname(reportFile)}/index.html`);
