// Small text helpers for the terminal.
export const isTty = () => !!process.stdout.isTTY && process.env.TERM !== 'dumb';
const paint = (code: string) => (s: string) => (isTty() && !process.env.NO_COLOR ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');
export const cyan = paint('36');

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return `${m}m${String(s).padStart(2, '0')}s`;
}

export function metricsText(metrics: Record<string, number>, keys?: string[]): string {
  return Object.entries(metrics)
    .filter(([k]) => !keys || keys.includes(k))
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(' ');
}
