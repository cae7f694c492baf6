// The evaluation gate: promote only a candidate that beats the champion by the spec's margin, or, with no champion
// yet, one that clears the absolute floor. Pure: the decision and its reason are a function of the numbers.
import type { PipelineSpec } from './spec.js';
import { validationFailed } from './errors.js';

export interface GateDecision {
  promote: boolean;
  reason: string;
  metric: string;
  candidate: number;
  champion?: number;
}

const fmt = (n: number) => Number(n.toFixed(6)).toString();

export function decide(gate: PipelineSpec['gate'], candidate: number, champion?: number): GateDecision {
  if (!Number.isFinite(candidate)) throw validationFailed(`candidate ${gate.metric} is not a number (${candidate})`, 'evaluate.metrics');
  const { metric, mode, minImprovement, floor } = gate;
  // Express both modes as "higher is better" so one comparison serves both.
  const sign = mode === 'max' ? 1 : -1;
  const base = { metric, candidate };
  if (champion === undefined || !Number.isFinite(champion)) {
    const ok = sign * (candidate - floor) >= 0;
    return {
      ...base,
      promote: ok,
      reason: ok
        ? `no champion yet; candidate ${metric} ${fmt(candidate)} clears the floor ${fmt(floor)}`
        : `no champion yet; candidate ${metric} ${fmt(candidate)} does not clear the floor ${fmt(floor)}`,
    };
  }
  const gain = sign * (candidate - champion);
  // A tiny epsilon keeps float noise (0.1 + 0.2) from deciding a tie.
  const ok = gain > 0 && gain + 1e-12 >= minImprovement;
  const verb = mode === 'max' ? 'higher' : 'lower';
  return {
    ...base,
    champion,
    promote: ok,
    reason: ok
      ? `candidate ${metric} ${fmt(candidate)} beats champion ${fmt(champion)} by ${fmt(gain)} (${verb} is better; margin ${fmt(minImprovement)})`
      : `candidate ${metric} ${fmt(candidate)} does not beat champion ${fmt(champion)} by the margin ${fmt(minImprovement)} (gain ${fmt(gain)}, ${verb} is better)`,
  };
}

/** Picks the better of the trained and the tuned model on the validation metric; ties go to the simpler (train). */
export function pickCandidate(
  gate: PipelineSpec['gate'],
  train: { metrics: Record<string, number>; artifacts: Record<string, string> },
  tune: { metrics: Record<string, number>; artifacts: Record<string, string> },
): { source: 'train' | 'tune'; modelUri: string; validation: number } {
  const key = `validation_${gate.metric}`;
  const t = train.metrics[key];
  const u = tune.metrics[key];
  if (t === undefined || !train.artifacts.model) throw validationFailed(`missing ${key} or model`, 'stages.train');
  if (u === undefined || !tune.artifacts.model) throw validationFailed(`missing ${key} or model`, 'stages.tune');
  const sign = gate.mode === 'max' ? 1 : -1;
  return sign * (u - t) > 0
    ? { source: 'tune', modelUri: tune.artifacts.model, validation: u }
    : { source: 'train', modelUri: train.artifacts.model, validation: t };
}
