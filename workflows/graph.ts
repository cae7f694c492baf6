// The state machine as a picture: a Mermaid flowchart generated from the ASL itself (so it cannot drift).
import type { StateMachineDefinition, TaskState } from './asl.js';

export function toMermaid(def: StateMachineDefinition): string {
  const lines = ['flowchart TD', '  start((start)) --> ' + def.StartAt];
  for (const [name, s] of Object.entries(def.States)) {
    const shape =
      s.Type === 'Choice' ? `${name}{${name}}` : s.Type === 'Succeed' ? `${name}([${name} ✔])` : s.Type === 'Fail' ? `${name}([${name} ✖])` : s.Type === 'Pass' ? `${name}[/${name}/]` : `${name}[${name}]`;
    lines.push(`  ${shape}`);
    if ('Next' in s && s.Next) lines.push(`  ${name} --> ${s.Next}`);
    if (s.Type === 'Choice') {
      for (const c of s.Choices) lines.push(`  ${name} -- "${Object.entries(c).filter(([k]) => k !== 'Next' && k !== 'Variable').map(([k, v]) => `${k} ${v}`).join(' ')}" --> ${c.Next}`);
      lines.push(`  ${name} -- default --> ${s.Default}`);
    }
    if (s.Type === 'Task') {
      const t = s as TaskState;
      for (const c of t.Catch ?? []) lines.push(`  ${name} -. "${c.ErrorEquals.join(', ')}" .-> ${c.Next}`);
      if (t.Resource.endsWith('.waitForTaskToken')) lines.push(`  class ${name} callback`);
    }
  }
  lines.push('  classDef callback fill:#e8f1ff,stroke:#3b6fd6');
  return `${lines.join('\n')}\n`;
}
