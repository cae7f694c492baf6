// Turns schema issues into one message a person can act on: each line names the field and says what is wrong.
// Keys, path segments and messages can carry the input itself (a 6 MB key, a value in a custom message): each is
// capped (core/errors.ts capEcho), so a line stays readable however large the input was.
import type { z } from 'zod';
import { capEcho, quoted, MAX_ECHO } from './errors.js';

export function formatIssues(issues: readonly z.core.$ZodIssue[], where: string): string {
  const lines = issues.slice(0, 10).map((issue) => {
    const path = [where, ...issue.path.map((p) => capEcho(String(p)))].join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.slice(0, 10).map((k) => quoted(k)).join(', ');
      return `${path}: unknown field(s) ${keys}${issue.keys.length > 10 ? ` and ${issue.keys.length - 10} more` : ''}`;
    }
    if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return `${path}: is required`;
    // A schema's own message holds at most one echoed value (capped where it is made) and the words around it.
    return `${path}: ${capEcho(issue.message, 2 * MAX_ECHO)}`;
  });
  if (issues.length > 10) lines.push(`… and ${issues.length - 10} more`);
  return lines.join('; ');
}
