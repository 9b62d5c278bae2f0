/**
 * `run --trace FILE`: the machine's trace buffers → FILE (Chrome/Perfetto trace-event JSON), FILE.svg and FILE.png
 * (a timeline of a window, by default the first 5 ms in which the machine ran).
 */
import { writeFileSync } from 'node:fs';
import { CliError } from './errors.js';
import { toChromeTrace, type ChromeTrace, type TraceSource } from '../trace/chrome.js';
import { renderTimelineSvg } from '../trace/timeline.js';
import { validateChromeTrace } from '../trace/validate.js';
import { svgToPng } from '../bench/chart/png.js';

export interface TraceWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Parses `START:END` (ms from the trace's start). */
export function parseTraceWindow(text: string): TraceWindow {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(text);
  if (m === null) throw new CliError(`run: --trace-window must be START:END in ms (e.g. 0:5), not ${text}`);
  const startMs = Number(m[1]);
  const endMs = Number(m[2]);
  if (!(endMs > startMs)) throw new CliError(`run: --trace-window END must be after START (${text})`);
  return { startMs, endMs };
}

/**
 * The 10 ms with the most activity (world switches, RT jobs, ring operations, messages), so the picture shows the
 * machine at work rather than boot and module loading.
 */
function defaultWindow(trace: ChromeTrace): TraceWindow {
  const WINDOW_US = 10_000;
  const ts = trace.traceEvents.filter((e) => e.ph !== 'M' && e.ph !== 'C').map((e) => e.ts).sort((x, y) => x - y);
  let best = 0;
  let bestStart = ts[0] ?? 0;
  for (let i = 0, j = 0; i < ts.length; i++) {
    while (ts[j]! < ts[i]! - WINDOW_US) j++;
    if (i - j + 1 > best) {
      best = i - j + 1;
      bestStart = Math.max(0, ts[i]! - WINDOW_US);
    }
  }
  const startMs = Math.floor(bestStart / 100) / 10;
  return { startMs, endMs: startMs + WINDOW_US / 1000 };
}

export interface TraceOutput {
  readonly file: string;
  readonly svg: string;
  readonly png: string | undefined;
  readonly events: number;
  readonly droppedEvents: number;
  readonly refusedEvents: number;
}

export function writeTrace(
  file: string,
  sources: readonly TraceSource[],
  o: { readonly taskNames?: readonly string[]; readonly queueNames?: Readonly<Record<number, string>>; readonly window?: TraceWindow; readonly metadata?: Record<string, unknown>; readonly title?: string },
): TraceOutput {
  const trace: ChromeTrace = toChromeTrace(sources, { ...(o.taskNames ? { taskNames: o.taskNames } : {}), ...(o.queueNames ? { queueNames: o.queueNames } : {}), ...(o.metadata ? { metadata: o.metadata } : {}) });
  const problems = validateChromeTrace(trace);
  if (problems.length > 0) throw new CliError(`run: --trace: the trace breaks ${problems[0]!.rule} (${problems[0]!.detail}); this is a bug, please report it`);
  const svgText = renderTimelineSvg(trace, { ...(o.window ?? defaultWindow(trace)), title: o.title ?? 'tz-virtio timeline' });
  const svg = `${file}.svg`;
  let png: string | undefined = `${file}.png`;
  try {
    writeFileSync(file, JSON.stringify(trace));
    writeFileSync(svg, svgText);
  } catch (e) {
    throw new CliError(`run: --trace ${file}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    writeFileSync(png, svgToPng(svgText, 1.5));
  } catch {
    png = undefined; // resvg unavailable: the SVG stays
  }
  const meta = trace.metadata as { droppedEvents: number; refusedEvents: number };
  return { file, svg, png, events: trace.traceEvents.length, droppedEvents: meta.droppedEvents, refusedEvents: meta.refusedEvents };
}
