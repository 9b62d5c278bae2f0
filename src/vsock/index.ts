/**
 * virtio-vsock (VIRTIO 1.2 §5.10): the 44-byte header codec, credit-based stream sockets as Node Duplex streams, the
 * device role (the host side, CID 2: the secure partition) and the driver role (the guest: the non-secure partition).
 */
export * from './constants.js';
export * from './errors.js';
export * from './header.js';
export * from './credit.js';
export * from './socket.js';
export * from './server.js';
export * from './endpoint.js';
export * from './device.js';
export * from './driver.js';
export * from './api.js';
