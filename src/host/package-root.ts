/**
 * The package's root folder (the first folder above the calling module with a package.json: src/… when tests run
 * the sources, dist/src/… when built), and its build/ folder, where artefacts compiled on this machine are kept
 * (never committed: build/ is ignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}

/** build/<sub> under the package root, created if needed; undefined when it cannot be created (read-only install). */
export function buildDir(sub: string): string | undefined {
  const d = join(packageRoot(), 'build', sub);
  try {
    mkdirSync(d, { recursive: true });
    return d;
  } catch {
    return undefined;
  }
}
