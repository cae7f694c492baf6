// The contract as files for the Python side (docs/stage-contract.md): each stage's whole input envelope, the
// result.json shape, the task/metric vocabulary and the stage input's variable and encoding, as JSON Schema and
// JSON. Pure: `npm run contract` (scripts/gen-contract.ts) writes them, and a unit test regenerates them to catch
// stale checked-in copies.
import { z } from 'zod';
import { StageFailureSchema, StageInputSchemas, StageResultSchema } from './contract.js';
import { FAILURE_FILE, RESULT_FILE } from './artifacts.js';
import { STAGES } from './stages.js';
import { vocabulary } from './tasks.js';
import { stageInputWire } from './stage-input-wire.js';

/** Where the files live, relative to the repository root (inside the sentinel_sdk package). */
export const CONTRACT_DIR = 'jobs/src/sentinel_sdk/contract';

const GENERATED = 'Generated from core/contract.ts by `npm run contract`; do not edit.';

const schemaText = (schema: z.ZodType, title: string) => {
  // Input side: fields with a default are optional and carry it, which is where the Python side takes defaults from.
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' });
  const { $schema, ...rest } = json;
  return `${JSON.stringify({ $schema, $comment: GENERATED, title, ...rest }, null, 2)}\n`;
};

/** File name → content, in a fixed order. */
export function contractFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const stage of STAGES) files[`${stage}.input.schema.json`] = schemaText(StageInputSchemas[stage], `SENTINEL_STAGE_INPUT of the ${stage} stage`);
  files['result.schema.json'] = schemaText(StageResultSchema, 'result.json of a stage');
  files['failure.schema.json'] = schemaText(StageFailureSchema, `${FAILURE_FILE} of a failed stage attempt`);
  files['vocabulary.json'] = `${JSON.stringify(vocabulary(), null, 2)}\n`;
  // Where the stage input is and how it is encoded (core/stage-input-wire.ts), and the names of the files a stage job
  // writes in its stage folder (core/artifacts.ts): the Python side reads them from here.
  const wire = { $comment: 'Generated from core/stage-input-wire.ts and core/artifacts.ts by `npm run contract`; do not edit.', stageInput: stageInputWire(), stageFiles: { result: RESULT_FILE, failure: FAILURE_FILE } };
  files['wire.json'] = `${JSON.stringify(wire, null, 2)}\n`;
  return files;
}
