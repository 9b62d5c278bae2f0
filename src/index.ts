export * from './virtio/index.js';
