// Output helpers shared by listing commands: Docker-style tables; the human texts (sizes, ages, status) come from src/humanize.ts.
export { humanAge, humanSize, shortId, statusText } from '../humanize';

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd()).join('\n') + '\n';
}
