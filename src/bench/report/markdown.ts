/** A report as Markdown: environment, reproduction command, tables, targets, charts (for docs/benchmarks.md). */
import type { BenchReport } from '../types.js';
import { buildCharts } from './charts.js';
import { buildTables, renderMarkdown } from './tables.js';

export function reportMarkdown(r: BenchReport, o: { chartsDir?: string; command?: string } = {}): string {
  const e = r.env;
  const lines: string[] = [];
  lines.push(`Machine: ${e.cpu}, ${e.cores} cores, ${e.memoryGiB} GiB, ${e.platform} (${e.arch}); Node ${e.node} (V8 ${e.v8}); ${e.date}; load average ${e.loadAvg.join(' -> ')}.`);
  if (o.command) lines.push('', `Reproduce: \`${o.command}\``);
  lines.push('', renderMarkdown(buildTables(r)));
  if (o.chartsDir !== undefined) {
    lines.push('');
    for (const c of buildCharts(r)) lines.push(`![${c.title}](${o.chartsDir}/${c.name}.png)`, '', `([SVG](${o.chartsDir}/${c.name}.svg))`, '');
  }
  return lines.join('\n') + '\n';
}
