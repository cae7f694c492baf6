// How a stage input travels to its job (docs/stage-contract.md): the JSON, UTF-8 encoded, as standard base64 with
// padding, in the environment variable STAGE_INPUT_ENV. Both backends put this one value in the job's runtime env.
//
// Why not the JSON itself: Ray expands `$VAR` and `${VAR}` in every runtime-env value (os.path.expandvars in
// ray/_private/utils.py update_envs), so an S3 key `price$HOME.csv` reached the job as `price/root.csv`; and the
// KubeRay operator parses runtimeEnvYAML as YAML 1.1, which folds U+0085, U+2028 and U+2029. The base64 alphabet
// (A-Z a-z 0-9 + / =) means nothing to either. The Python side (sentinel_sdk.contract) reads the variable's name
// and this encoding from the generated contract file `wire.json` (core/contract-files.ts), and decodes as strictly.
import { capEcho, validationFailed } from './errors.js';
import { STAGE_INPUT_ENV } from './stage-input.js';

export { STAGE_INPUT_ENV };

/** The encoding of the variable's value, as written to the contract file for the Python side. */
export const STAGE_INPUT_ENCODING = 'base64' as const;

/** The contract file's content: where the input is and how to read it (`jobs/src/sentinel_sdk/contract/wire.json`). */
export const stageInputWire = () => ({ env: STAGE_INPUT_ENV, encoding: STAGE_INPUT_ENCODING, charset: 'utf-8', format: 'json' }) as const;

// A plain character class (no repeated group): V8 would overflow its stack backtracking a group over megabytes.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (v: string) => v.length % 4 === 0 && BASE64.test(v);

/** The variable's value for one stage input. */
export function encodeStageInput(input: unknown): string {
  const json = JSON.stringify(input);
  if (json === undefined) throw validationFailed('is not JSON data', STAGE_INPUT_ENV);
  // JSON.stringify escapes lone surrogates (\udXXX), so the text is well-formed and UTF-8 keeps every character.
  return Buffer.from(json, 'utf8').toString('base64');
}

/** The stage input in a variable's value; anything but base64 of UTF-8 JSON is a ValidationFailed naming the variable. */
export function decodeStageInput(value: string | undefined): unknown {
  if (value === undefined || value === '') throw validationFailed('is not set', STAGE_INPUT_ENV);
  if (!isBase64(value)) throw validationFailed(`is not ${STAGE_INPUT_ENCODING} (standard alphabet, padded; ${value.length} characters)`, STAGE_INPUT_ENV);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(value, 'base64'));
  } catch {
    throw validationFailed('decodes to bytes that are not UTF-8', STAGE_INPUT_ENV);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw validationFailed(`decodes to text that is not JSON: ${capEcho((e as Error).message)}`, STAGE_INPUT_ENV);
  }
}
