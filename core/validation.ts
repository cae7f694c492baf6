// Turns schema issues into one message a person can act on: each line names the field and says what is wrong.
import type { z } from 'zod';

export function formatIssues(issues: readonly z.core.$ZodIssue[], where: string): string {
  const lines = issues.slice(0, 10).map((issue) => {
    const path = [where, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return `${path}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `${path}: is required`;
    return `${path}: ${issue.message}`;
  });
  if (issues.length > 10) lines.push(`… and ${issues.length - 10} more`);
  return lines.join('; ');
}
