export * from './device.js';
export * from './driver.js';
export * from './errors.js';
export * from './api.js';
