// `sentinel resume` arguments, refused before anything runs (exit 2, the flag named): --serve/--no-serve as `run`
// takes them for a local resume; not with --backend aws, whose stack serves through its RayService.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resumeCommand } from '../../cli/resume.js';

async function stderrOf(fn: () => Promise<number>): Promise<{ code: number; err: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), err };
  } finally {
    process.stderr.write = write;
  }
}

test('resume: --serve and --no-serve together are refused, naming both', async () => {
  const { code, err } = await stderrOf(() => resumeCommand(['r0123456789', '--serve', '--no-serve'], process.cwd()));
  assert.equal(code, 2);
  assert.match(err, /--serve and --no-serve/);
});

test('resume --backend aws refuses --serve and --no-serve (the deployed stack serves through its RayService)', async () => {
  for (const flag of ['--serve', '--no-serve']) {
    const { code, err } = await stderrOf(() => resumeCommand(['r0123456789', '--backend', 'aws', flag], process.cwd()));
    assert.equal(code, 2, flag);
    assert.match(err, /--serve\/--no-serve are for a local resume/, flag);
  }
});
