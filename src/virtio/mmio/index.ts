export * from './registers.js';
export * from './device.js';
export * from './driver.js';
