/**
 * Worker scripts must be compiled JavaScript (Node 20 cannot load .ts in a worker). From dist/ the script sits next
 * to this module; when this module itself runs from source (vitest), the compiled copy under dist/ is used.
 */
import { fileURLToPath } from 'node:url';

export function fuzzWorkerUrl(file: string): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(`../../dist/src/fuzz/${file}`, here);
  return new URL(`./${file}`, here);
}

export function fuzzWorkerPath(file: string): string {
  return fileURLToPath(fuzzWorkerUrl(file));
}
