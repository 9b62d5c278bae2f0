export * from './errors.js';
export * from './platform.js';
export * from './gic.js';
export * from './monitor.js';
export * from './machine.js';
export * from './report.js';
export { SecureCore, type SecureCoreOptions } from './secure-core.js';
export { NonSecureCore, type NonSecureCoreOptions } from './nonsecure-core.js';
