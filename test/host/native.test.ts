import { describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNative, nativeAvailable, NATIVE_ABI_VERSION } from '../../src/host/index.js';
import { runNodeModule, tempDir } from './helpers.js';

describe('native addon loader', () => {
  it('loads the built addon', () => {
    expect(nativeAvailable()).toBe(true);
    expect(loadNative().abiVersion).toBe(NATIVE_ABI_VERSION);
    expect(NATIVE_ABI_VERSION).toBe(4);
  });

  it('without the addon, fails with a typed error that says why and how to rebuild', async () => {
    // A copy of the compiled host layer in a package that has no build/ and a recorded build failure.
    const root = tempDir('tz-nonative-');
    writeFileSync(join(root, 'package.json'), '{"type":"module"}');
    mkdirSync(join(root, 'build'));
    writeFileSync(join(root, 'build', 'tz_shm.status.json'), JSON.stringify({ ok: false, reason: 'g++ not found' }));
    // the host layer and the one module below it (the coded-error base)
    for (const layer of ['host', 'errors']) cpSync(fileURLToPath(new URL(`../../dist/src/${layer}`, import.meta.url)), join(root, 'dist', 'src', layer), { recursive: true });
    const r = await runNodeModule(`
      const h = await import('./dist/src/host/index.js');
      const out = { available: h.nativeAvailable() };
      try { h.mapSharedFile('/tmp/never', { size: 8 }); } catch (e) { out.code = e.code; out.message = e.message; }
      process.stdout.write(JSON.stringify(out));
    `, 15_000, root);
    const out = JSON.parse(r.stdout) as { available: boolean; code: string; message: string };
    expect(out.available).toBe(false);
    expect(out.code).toBe('HOST_ERR_NATIVE_UNAVAILABLE');
    expect(out.message).toMatch(/tz_shm\.node is missing \(the build failed: g\+\+ not found\)/);
    expect(out.message).toMatch(/build-native\.mjs/);
  });
});
