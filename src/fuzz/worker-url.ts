/**
 * Worker scripts must be compiled JavaScript (Node 20 cannot load .ts in a worker). From dist/ the script sits next
 * to this module; when this module itself runs from source (vitest), the compiled copy under dist/ is used.
 */
import { fileURLToPath } from 'node:url';
import { compiledUrl } from '../host/compiled.js';

export function fuzzWorkerUrl(file: string): URL {
  return compiledUrl(import.meta.url, `./${file}`);
}

export function fuzzWorkerPath(file: string): string {
  return fileURLToPath(fuzzWorkerUrl(file));
}
