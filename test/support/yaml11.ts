// A YAML 1.1 parser for tests: libyaml through PyYAML's CSafeLoader, in the project's virtualenv. The KubeRay
// operator parses runtimeEnvYAML with go-yaml v2 (via sigs.k8s.io/yaml), a port of libyaml: both treat NEL, LS and
// PS as line breaks. The `yaml` npm package, even with { version: '1.1' }, keeps them as they are, so it cannot
// show what the operator does.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..');
const python = join(repoRoot, '.venv', 'bin', 'python');

// Strict UTF-8 out: a lone surrogate the parser made (from a \uD83D\uDE00 escape pair, say) fails the call.
const SCRIPT = [
  'import sys, json, yaml',
  'value = yaml.load(sys.stdin.buffer.read().decode("utf-8"), Loader=yaml.CSafeLoader)',
  'sys.stdout.buffer.write(json.dumps(value, ensure_ascii=False).encode("utf-8"))',
].join('\n');

/** `text` as a YAML 1.1 (libyaml) parser reads it. */
export function parseYaml11(text: string): unknown {
  const out = execFileSync(python, ['-c', SCRIPT], { input: Buffer.from(text, 'utf8'), maxBuffer: 64 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(out)) as unknown;
}
