export * from './errors.js';
export * from './protocol.js';
export * from './message.js';
export { MessageReader } from './channel.js';
export { MemTable } from './mem-table.js';
export { VhostUserBackend, type VhostUserBackendOptions, type VhostUserStats } from './backend.js';
export { VhostUserServer } from './server.js';
