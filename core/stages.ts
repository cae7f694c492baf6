// The pipeline's stages and their order. One list, used by the ASL builder, the handlers and the CLI.
export const STAGES = ['ingest', 'train', 'tune', 'evaluate'] as const;
export type Stage = (typeof STAGES)[number];
export const isStage = (s: unknown): s is Stage => typeof s === 'string' && (STAGES as readonly string[]).includes(s);

/** The state name each stage has in the state machine. */
export const stateNameFor = (stage: Stage) => stage.charAt(0).toUpperCase() + stage.slice(1);
