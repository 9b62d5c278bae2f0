export * from './image.js';
export * from './split-report.js';
export * from './packed-report.js';
export * from './text.js';
