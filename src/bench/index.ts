/** The benchmark layer: `tz-virtio bench` runs it; programs can too. */
export { runBench, type RunHooks } from './run.js';
export { defaultOptions, validateOptions, planTrials, messagesFor, FULL_SIZES, QUICK_SIZES, type BenchOptions } from './plan.js';
export { runTrial } from './trial.js';
export { CONTENDER_NAMES, loadContender } from './contenders/index.js';
export type { Contender, ContenderSetup, RoleInstance } from './contender.js';
export { BenchError, BenchErrorCode } from './errors.js';
export { lineChart, barChart, escapeXml, type Series, type LineChartSpec, type BarChartSpec } from './chart/svg.js';
export { svgToPng } from './chart/png.js';
export { buildCharts, type Chart } from './report/charts.js';
export { buildTables, renderText, renderMarkdown, type Table } from './report/tables.js';
export { checkTargets, type TargetCheck } from './report/targets.js';
export { writeOutputs, reportJson } from './output.js';
export { runMicro, measureBench, microModules, type MicroOptions } from './micro/runner.js';
export { collectEnv, cpuBusy, waitForQuiet } from './env.js';
export { reportMarkdown } from './report/markdown.js';
export * from './types.js';
