// The run summary's one line of control-plane metrics, read back from the run's metrics.jsonl (EMF, written by the
// local runtime's metrics sink): run duration, stage attempts, retries by error name, completion latency, the gate's
// effect, handler errors. `sentinel status` can print the same digest later: it reads files, not the runtime.
import type { ControlPlaneDigest } from '../core/run-history.js';
import { duration } from './format.js';

const byName = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([name, n]) => `${name}${n > 1 ? ` ×${n}` : ''}`)
    .join(', ');

export function metricsDigestLine(d: ControlPlaneDigest): string | undefined {
  if (!d.points) return undefined;
  const retries = Object.values(d.retries).reduce((a, b) => a + b, 0);
  const errors = Object.values(d.errors).reduce((a, b) => a + b, 0);
  const parts = [
    d.runSeconds !== undefined ? `run ${duration(d.runSeconds)}` : '',
    `${d.attempts} stage attempt${d.attempts === 1 ? '' : 's'}`,
    retries ? `${retries} retr${retries === 1 ? 'y' : 'ies'} (${byName(d.retries)})` : '0 retries',
    d.completionLatency ? `completion latency mean ${duration(d.completionLatency.meanSeconds)}, max ${duration(d.completionLatency.maxSeconds)}` : '',
    d.promoted ? 'promoted' : d.championKept ? 'champion kept' : '',
    errors ? `${errors} handler error${errors === 1 ? '' : 's'} (${byName(d.errors)})` : '',
  ].filter(Boolean);
  return parts.join(' · ');
}
