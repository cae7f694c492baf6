// A small typed subset of the Amazon States Language (JSONPath dialect): what the pipeline uses, and no more.
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: 'FULL' | 'NONE';
}
export interface Catcher {
  ErrorEquals: string[];
  ResultPath?: string;
  Next: string;
}
type Flow = { Next: string; End?: never } | { End: true; Next?: never };
type Io = { InputPath?: string; OutputPath?: string; ResultPath?: string | null; Comment?: string };

export type TaskState = Io &
  Flow & {
    Type: 'Task';
    Resource: string;
    Parameters?: Record<string, unknown>;
    ResultSelector?: Record<string, unknown>;
    TimeoutSeconds?: number;
    HeartbeatSeconds?: number;
    Retry?: Retrier[];
    Catch?: Catcher[];
  };
export type PassState = Io & Flow & { Type: 'Pass'; Result?: unknown; Parameters?: Record<string, unknown> };
export type ChoiceState = {
  Type: 'Choice';
  Comment?: string;
  Choices: Array<Record<string, unknown> & { Next: string }>;
  Default: string;
};
/** A pause; the pipeline's promotion loop takes its length from the last check (SecondsPath). */
export type WaitState = Io & Flow & { Type: 'Wait'; Seconds?: number; SecondsPath?: string };
export type SucceedState = { Type: 'Succeed'; Comment?: string; OutputPath?: string };
export type FailState = { Type: 'Fail'; Comment?: string; Error?: string; Cause?: string; ErrorPath?: string; CausePath?: string };
export type State = TaskState | PassState | ChoiceState | WaitState | SucceedState | FailState;

export interface StateMachineDefinition {
  Comment?: string;
  QueryLanguage?: 'JSONPath';
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, State>;
}
