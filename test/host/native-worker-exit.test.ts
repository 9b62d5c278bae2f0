/**
 * A mapping made by the addon inside a worker_thread outlives the worker: the process must survive the worker's exit
 * and the later garbage collection that frees the mapping (its unmap code lives in the addon, which Node would unload
 * with the last worker that loaded it unless the addon pins itself).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DIST_HOST, runNodeModule, tempDir } from './helpers.js';

describe('native addon loaded only by workers', () => {
  it('a file mapped in a worker that exits is unmapped later by GC without crashing the process', async () => {
    const dir = tempDir('tz-native-worker-');
    // The main thread never loads the addon: only the workers do, so their exit is the addon's last user going away.
    const r = await runNodeModule(
      `
      import { Worker } from 'node:worker_threads';
      const workerSource = \`
        import { parentPort, workerData } from 'node:worker_threads';
        const h = await import(workerData.host);
        const sab = h.mapSharedFile(workerData.path, { size: 65536 });
        new Uint32Array(sab)[0] = 0x600d;
        globalThis.kept = h.mapSharedFile(workerData.path + '.kept', { size: 4096 }); // freed with the worker
        parentPort.postMessage(sab); // this one outlives the worker, in the main thread
      \`;
      const workerUrl = new URL('data:text/javascript,' + encodeURIComponent(workerSource));
      let held = [];
      for (let i = 0; i < 3; i++) {
        const w = new Worker(workerUrl, { workerData: { host: ${JSON.stringify(DIST_HOST)}, path: ${JSON.stringify(join(dir, 'map'))} + i } });
        await new Promise((resolve, reject) => {
          w.on('message', (sab) => held.push(sab));
          w.on('error', reject);
          w.on('exit', resolve);
        });
      }
      const seen = held.map((sab) => new Uint32Array(sab)[0]);
      held = [];
      for (let i = 0; i < 5; i++) {
        globalThis.gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      process.stdout.write(JSON.stringify({ seen }));
      `,
      30_000,
      undefined,
      ['--expose-gc'],
    );
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ seen: [0x600d, 0x600d, 0x600d] });
  });
});
