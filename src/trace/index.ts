export * from './events.js';
export * from './buffer.js';
export * from './chrome.js';
export * from './validate.js';
export * from './timeline.js';
export * from './active.js';
export * from './miss.js';
export * from './queues.js';
