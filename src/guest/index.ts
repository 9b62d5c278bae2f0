export * from './api.js';
export * from './errors.js';
export * from './memory-map.js';
export * from './memory-port.js';
export * from './rt.js';
export * from './timers.js';
export * from './stats.js';
export type { CorePort } from './port.js';
export { GuestRuntime, type RuntimeOptions, type RpmsgBinding, type MainOutcome } from './runtime.js';
