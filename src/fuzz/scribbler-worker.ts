/** Worker entry of the concurrent hostile driver: scribbles until told to stop. */
import { parentPort, workerData } from 'node:worker_threads';
import { Prng } from './prng.js';
import { CTRL_STOP, Scribbler, type ScribbleLayout } from './scribbler.js';

interface ScribblerData {
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly layout: ScribbleLayout;
  readonly ctrl: SharedArrayBuffer;
  readonly seed: number;
  readonly stream: number;
}

const d = workerData as ScribblerData;
const ctrl = new Int32Array(d.ctrl);
const s = new Scribbler(d.buffer, d.byteOffset, d.layout, ctrl, new Prng(d.seed, d.stream));
s.init();
parentPort?.postMessage('ready');
while (Atomics.load(ctrl, CTRL_STOP) === 0) {
  for (let k = 0; k < 256; k++) s.step();
}
parentPort?.postMessage('done');
