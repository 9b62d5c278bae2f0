export * from './errors.js';
export * from './memory.js';
export * from './features.js';
export * from './status.js';
export * from './event.js';
export * from './chain.js';
export * from './virtqueue.js';
export * from './split/index.js';
