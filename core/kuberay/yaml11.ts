// Text that a YAML 1.1 parser reads back exactly. The KubeRay v1.7 operator parses runtimeEnvYAML with a YAML 1.1
// parser (sigs.k8s.io/yaml over go-yaml), and YAML 1.1 treats NEL (U+0085), LS (U+2028) and PS (U+2029) as line
// breaks: inside a quoted scalar it folds them, so a value written raw does not come back as it was. It also refuses
// raw non-printable characters (DEL, the C1 controls, U+FFFE, U+FFFF). JSON is YAML; JSON with every such character
// written as a \uXXXX escape (the same escape in JSON and in YAML 1.1 double-quoted scalars) means the same to both.
import { validationFailed } from '../errors.js';

/** Characters a YAML 1.1 parser alters or refuses when raw (C0 controls: JSON.stringify escapes them already). */
const NOT_RAW_IN_YAML11 = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
/** A surrogate without its pair (with the u flag a pair is one code point, so only lone halves match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `value` as one line of JSON that YAML 1.1 and 1.2 parsers (and JSON.parse) read back as the same value. A lone
 * surrogate has no YAML form at all (go-yaml refuses the \uD800 escape JSON would write), so it is a
 * ValidationFailed naming the field (`where.key`).
 */
export function yaml11Json(value: unknown, where: string): string {
  const text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
    if (LONE_SURROGATE.test(key) || (typeof v === 'string' && LONE_SURROGATE.test(v))) {
      throw validationFailed('holds a lone UTF-16 surrogate, which YAML cannot carry', key ? `${where}.${key}` : where);
    }
    return v;
  });
  if (text === undefined) throw validationFailed('is not JSON data', where);
  return text.replace(NOT_RAW_IN_YAML11, escape);
}
