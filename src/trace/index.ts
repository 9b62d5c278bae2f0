export * from './events.js';
export * from './buffer.js';
export * from './chrome.js';
export * from './validate.js';
export * from './timeline.js';
