// A quick check of an uploaded CSV's header, so an obviously wrong file fails in a second, before any compute.
// The full check (types, values, NaN, class balance) is the ingest job's.
import { capEcho, quoted, validationFailed } from './errors.js';

export function checkCsvHeader(firstLine: string, target: string, where: string): string[] {
  const header = firstLine.replace(/\r?\n$/, '').replace(/^\uFEFF/, '');
  if (!header.trim()) throw validationFailed('the file is empty or has no header row', where);
  const columns = header.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  const dupes = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (dupes.length) throw validationFailed(`duplicate column(s) ${[...new Set(dupes)].slice(0, 8).map((d) => quoted(d)).join(', ')}`, where);
  if (!columns.includes(target)) {
    throw validationFailed(`no ${quoted(target)} column (the spec's dataset.target); columns are ${capEcho(columns.slice(0, 8).join(', '))}${columns.length > 8 ? ', …' : ''}`, where);
  }
  if (columns.length < 2) throw validationFailed('needs at least one feature column besides the target', where);
  return columns;
}
