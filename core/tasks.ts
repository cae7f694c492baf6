// The one vocabulary of tasks and metrics (docs/stage-contract.md): which metrics each task has and whether each is
// maximised or minimised. The spec, the gate, the stage inputs and the Python side (vocabulary.json, generated
// from here by `npm run contract`) all read it from this table.

export type Mode = 'max' | 'min';

const VOCABULARY = {
  binary: { metrics: { roc_auc: 'max', accuracy: 'max', f1: 'max', logloss: 'min' }, default: 'roc_auc' },
  multiclass: { metrics: { accuracy: 'max', f1_macro: 'max', logloss: 'min' }, default: 'accuracy' },
  regression: { metrics: { rmse: 'min', mae: 'min', r2: 'max' }, default: 'rmse' },
} as const satisfies Record<string, { metrics: Record<string, Mode>; default: string }>;

export type Task = keyof typeof VOCABULARY;
export type Metric = { [T in Task]: keyof (typeof VOCABULARY)[T]['metrics'] }[Task];

export const TASKS = Object.keys(VOCABULARY) as [Task, ...Task[]];

const directions: Record<string, Mode> = Object.assign({}, ...TASKS.map((t) => VOCABULARY[t].metrics));

/** Every metric of any task, in table order, each once. */
export const METRICS = Object.keys(directions) as [Metric, ...Metric[]];

export const isTask = (t: unknown): t is Task => typeof t === 'string' && (TASKS as readonly string[]).includes(t);
export const isMetric = (m: unknown): m is Metric => typeof m === 'string' && Object.hasOwn(directions, m);

/** The metrics a task's models are scored on (evaluate reports all of them; the gate picks one). */
export const metricsFor = (task: Task): Metric[] => Object.keys(VOCABULARY[task].metrics) as Metric[];

/** Whether a metric is maximised or minimised: the gate's default mode. */
export function metricMode(metric: Metric): Mode {
  const mode = directions[metric];
  if (!mode) throw new Error(`unknown metric "${metric}"`);
  return mode;
}

/** The metric a task is usually judged by. */
export const defaultMetric = (task: Task): Metric => VOCABULARY[task].default;

export const isMetricOf = (task: Task, metric: string): metric is Metric => Object.hasOwn(VOCABULARY[task].metrics, metric);

export interface Vocabulary {
  tasks: Record<Task, { metrics: Record<string, Mode>; default: Metric }>;
}

/** The table as the Python side reads it (vocabulary.json). */
export function vocabulary(): Vocabulary {
  const tasks = {} as Vocabulary['tasks'];
  for (const t of TASKS) tasks[t] = { metrics: { ...VOCABULARY[t].metrics }, default: VOCABULARY[t].default };
  return { tasks };
}
