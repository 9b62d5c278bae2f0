export * from './layout.js';
export * from './event.js';
export * from './walk.js';
export * from './driver.js';
export * from './device.js';
