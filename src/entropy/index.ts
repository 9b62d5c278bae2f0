export * from './device.js';
export * from './driver.js';
