export * from './virtio/index.js';
export * from './guest/index.js';
export * from './hypervisor/index.js';
