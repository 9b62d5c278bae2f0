export * from './window.js';
export * from './device.js';
export * from './driver.js';
