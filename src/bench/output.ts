/** Writes a report's files: results.json, and each chart as SVG and PNG. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { svgToPng } from './chart/png.js';
import { buildCharts } from './report/charts.js';
import { reportMarkdown } from './report/markdown.js';
import type { BenchReport } from './types.js';

/** JSON of a report (typed arrays never appear in results; Spread and counters are plain objects). */
export function reportJson(r: BenchReport): string {
  return JSON.stringify(r, null, 2);
}

export function writeOutputs(r: BenchReport, dir: string, o: { charts?: boolean; png?: boolean; command?: string } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const json = join(dir, 'results.json');
  writeFileSync(json, reportJson(r) + '\n');
  files.push(json);
  const md = join(dir, 'results.md');
  writeFileSync(md, reportMarkdown(r, { chartsDir: o.charts === false ? undefined : '.', command: o.command }));
  files.push(md);
  if (o.charts === false) return files;
  for (const c of buildCharts(r)) {
    const svg = join(dir, `${c.name}.svg`);
    writeFileSync(svg, c.svg);
    files.push(svg);
    if (o.png !== false) {
      const p = join(dir, `${c.name}.png`);
      writeFileSync(p, svgToPng(c.svg));
      files.push(p);
    }
  }
  return files;
}
