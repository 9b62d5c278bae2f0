/** virtio-console (VIRTIO 1.2 §5.3): device role (secure side), driver role (non-secure side), wire codecs. */
export * from './constants.js';
export * from './errors.js';
export * from './control.js';
export * from './config.js';
export * from './port.js';
export * from './stats.js';
export * from './device.js';
export * from './driver.js';
export * from './api.js';
