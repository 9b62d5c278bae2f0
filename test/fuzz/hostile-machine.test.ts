/**
 * The issue's own setting: `run --isolation process`, and a separate OS process that maps the non-secure IPC window
 * file and rewrites it at full speed (ring indices, descriptors, vdev status, resource table, RPMsg headers) from
 * the moment the non-secure partition boots, while the secure echo service attaches and re-attaches. No exception
 * may reach the secure runtime (no "error in rpmsg" line, handlerErrors 0), on one core and on two.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runMachine } from '../../dist/src/hypervisor/machine.js';
import { decodeResourceTable, findVdev, planRpmsgRegion, VIRTIO_ID_RPMSG } from '../../src/rpmsg/index.js';
import { mapSharedFile } from '../../src/host/shm.js';
import { nativeAvailable } from '../../src/host/native.js';
import { HW_CTRL_BYTES, HW_DONE, HW_READY, HW_STOP, HW_WRITES, writerParams } from '../../src/fuzz/hostile-writer.js';
import { fuzzWorkerPath } from '../../src/fuzz/worker-url.js';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

async function waitWord(ctrl: Int32Array, word: number, ms: number): Promise<boolean> {
  const t0 = performance.now();
  while (Atomics.load(ctrl, word) === 0) {
    if (performance.now() - t0 > ms) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe.skipIf(!nativeAvailable())('hostile non-secure process against `run --isolation process`', () => {
  it.each([1, 2] as const)('%i core(s): nothing the writer does reaches the secure runtime as an exception', async (cores) => {
    const dir = mkdtempSync(join(tmpdir(), 'tz-hostile-machine-'));
    const ctrlFile = join(dir, 'ctrl');
    writeFileSync(ctrlFile, Buffer.alloc(HW_CTRL_BYTES));
    const ctrl = new Int32Array(mapSharedFile(ctrlFile, { create: false }));
    let writer: ReturnType<typeof spawn> | undefined;
    try {
      const r = await runMachine({
        cores,
        isolation: 'process',
        timeoutMs: 60_000,
        secure: { module: here('../../examples/echo/secure.mjs') },
        nonsecure: { module: here('./fixtures/hostile-ns-client.mjs'), args: { ms: 2500 } },
        onProcess: (info) => {
          if (info.world !== 'nonsecure' || writer !== undefined) return;
          const ipc = info.files.find((f) => f.endsWith('/ipc'));
          if (ipc === undefined) return;
          // The RPMsg region starts at offset 0 of the ipc file: its physical base from vring0's address in the table.
          const bytes = new Uint8Array(mapSharedFile(ipc, { create: false, grow: false }));
          const table = decodeResourceTable(bytes.slice(0, 4096));
          const vdev = findVdev(table, VIRTIO_ID_RPMSG)!;
          const at0 = planRpmsgRegion({ base: 0 });
          const plan = planRpmsgRegion({ base: vdev.vrings[0]!.da - at0.vring0.da });
          const params = writerParams(plan, { fileSize: 0, regionOff: 0, regionSize: plan.size, ctrlFile, ctrlOff: 0, seed: 0x9a + cores, stream: 1, maxMs: 30_000 });
          writer = spawn(process.execPath, [fuzzWorkerPath('hostile-writer-process.js'), ipc, JSON.stringify(params)], { stdio: 'ignore' });
          writer.on('error', () => undefined);
        },
      });
      expect(writer).toBeDefined();
      expect(await waitWord(ctrl, HW_READY, 1)).toBe(true);
      Atomics.store(ctrl, HW_STOP, 1);
      expect(await waitWord(ctrl, HW_DONE, 10_000)).toBe(true);
      expect(Atomics.load(ctrl, HW_WRITES)).not.toBe(0);
      const secureErrors = r.secure.logs.filter((l) => /error in/.test(l));
      expect(secureErrors).toEqual([]);
      expect(r.secure.crash).toBeUndefined();
      expect((r.secure.report as Record<string, unknown> | undefined)?.['handlerErrors'] ?? 0).toBe(0);
    } finally {
      Atomics.store(ctrl, HW_STOP, 1);
      if (writer !== undefined && writer.exitCode === null && writer.signalCode === null && !(await waitWord(ctrl, HW_DONE, 5_000))) writer.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
