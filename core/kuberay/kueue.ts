// Kueue (https://kueue.sigs.k8s.io): when the deployment names a LocalQueue, RayJobs carry its name and a workload
// priority class as labels, and are created suspended: Kueue admits them (unsuspends) when the queue has quota.
// Kueue then owns `spec.suspend` of those jobs and of their clusters, so the idle reaper leaves them alone.

/** The LocalQueue a Kueue-managed job is submitted to. */
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
/** The WorkloadPriorityClass of the job's workload (Kueue orders admission by it). */
export const KUEUE_PRIORITY_LABEL = 'kueue.x-k8s.io/priority-class';

export interface KueueOptions {
  /** The LocalQueue in the pipelines' namespace. */
  queueName: string;
  /** A WorkloadPriorityClass name; absent: Kueue's default priority. */
  priorityClass?: string;
}

/** The labels a Kueue-managed RayJob carries. */
export const kueueLabels = (k: KueueOptions): Record<string, string> => ({
  [KUEUE_QUEUE_LABEL]: k.queueName,
  ...(k.priorityClass ? { [KUEUE_PRIORITY_LABEL]: k.priorityClass } : {}),
});

/** Kueue manages an object that carries a queue name. */
export const isKueueManaged = (labels: Record<string, string> | undefined) => !!labels?.[KUEUE_QUEUE_LABEL];
