export * from './codec.js';
export * from './plan.js';
export * from './status-byte.js';
export * from './device.js';
export * from './driver.js';
export * from './handshake.js';
