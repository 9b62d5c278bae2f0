/**
 * Where the compiled JavaScript of a file lies. Workers and child processes load .js only (Node 20 cannot load .ts
 * there), so a module that starts one must name a compiled file: from dist/ that is the file next to it; when the module
 * itself runs from source (vitest), it is the same path under dist/. This is the one place that knows the mapping.
 *
 *   compiledUrl(import.meta.url, './reboot-worker.js')
 *     from dist/src/soak/reboot.js → dist/src/soak/reboot-worker.js
 *     from      src/soak/reboot.ts → dist/src/soak/reboot-worker.js
 */
const ROOT_FROM_SOURCE = new URL('../../', import.meta.url); // this file is <root>/src/host/compiled.ts when run from source

export function compiledUrl(moduleUrl: string, rel: string): URL {
  if (!moduleUrl.endsWith('.ts')) return new URL(rel, moduleUrl);
  const root = ROOT_FROM_SOURCE.href;
  if (!moduleUrl.startsWith(root)) throw new Error(`${moduleUrl} is outside the package root ${root}`);
  return new URL(rel, new URL(`dist/${moduleUrl.slice(root.length)}`, root));
}
