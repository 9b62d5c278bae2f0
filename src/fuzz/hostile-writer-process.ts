/**
 * Entry of the hostile non-secure process: `node hostile-writer-process.js <shared file> <params json>`. Maps the
 * file and runs HostileWriter (hostile-writer.ts) until the parent sets STOP, `maxMs` passes, or the parent is gone.
 */
import { mapSharedFile } from '../host/shm.js';
import { Prng } from './prng.js';
import { HW_CTRL_BYTES, HW_DONE, HW_READY, HW_STOP, HW_WRITES, HostileWriter, type HostileWriterParams } from './hostile-writer.js';

function main(): void {
  const [path, json] = process.argv.slice(2);
  if (path === undefined || json === undefined) {
    process.stderr.write('usage: hostile-writer.js <shared file> <params json>\n');
    process.exit(2);
  }
  const p = JSON.parse(json) as HostileWriterParams;
  const buffer = mapSharedFile(path, { size: p.fileSize, create: false, grow: false });
  const ctrlBuffer = p.ctrlFile === undefined ? buffer : mapSharedFile(p.ctrlFile, { create: false, grow: false });
  const ctrl = new Int32Array(ctrlBuffer, p.ctrlOff, HW_CTRL_BYTES / 4);
  const rng = new Prng(p.seed, p.stream);
  const w = new HostileWriter(buffer, p, rng);
  const parent = process.ppid;
  const deadline = performance.now() + p.maxMs;
  Atomics.store(ctrl, HW_READY, 1);
  Atomics.notify(ctrl, HW_READY);
  let writes = 0;
  for (let burst = 0; Atomics.load(ctrl, HW_STOP) === 0; burst++) {
    const mode = rng.int(10);
    if (mode < 5) {
      // Storm: full speed.
      for (let k = 0; k < 2048; k++) w.step();
      writes += 2048;
    } else if (mode < 9) {
      // Sparse: single writes with short gaps, so the parent's reads interleave with each one.
      for (let k = 0; k < 64; k++) {
        w.step();
        for (let spin = rng.int(2000); spin > 0; spin--) if (Atomics.load(ctrl, HW_STOP) !== 0) break;
      }
      writes += 64;
    } else {
      w.restore();
      writes++;
    }
    Atomics.store(ctrl, HW_WRITES, writes | 0);
    if ((burst & 63) === 0 && (performance.now() > deadline || process.ppid !== parent)) break;
  }
  Atomics.store(ctrl, HW_DONE, 1);
  Atomics.notify(ctrl, HW_DONE);
}

main();
