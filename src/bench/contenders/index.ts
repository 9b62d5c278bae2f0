/**
 * The contender registry. Modules load lazily (a contender whose layer has not landed or fails to import is
 * reported as skipped, not a crash); each module exports `contender` or `contenders`.
 */
import type { Contender } from '../contender.js';
import { BenchError, BenchErrorCode } from '../errors.js';

/** Contender name -> module file (relative to this file once compiled). Order = report order. */
export const CONTENDER_MODULES: Readonly<Record<string, string>> = {
  native: './native.js',
  'js-ring': './js-ring.js',
  virtqueue: './virtqueue.js',
  'virtqueue-packed': './virtqueue.js',
  'virtqueue-inplace': './virtqueue.js',
  rpmsg: './rpmsg.js',
  'rpmsg-zerocopy': './rpmsg.js',
  'rpmsg-inplace': './rpmsg.js',
  console: './console.js',
  vsock: './vsock.js',
  'vsock-packed': './vsock.js',
  'postMessage-clone': './postmessage.js',
  'postMessage-transfer': './postmessage.js',
  'ringbuf.js': './ringbuf.js',
  'atomics-floor': './atomics.js',
  memcpy: './memcpy.js',
};

export const CONTENDER_NAMES: readonly string[] = Object.keys(CONTENDER_MODULES);

const cache = new Map<string, Promise<Contender>>();

async function load(name: string): Promise<Contender> {
  const file = CONTENDER_MODULES[name];
  if (file === undefined) throw new BenchError(BenchErrorCode.UNKNOWN_CONTENDER, `unknown contender '${name}' (known: ${CONTENDER_NAMES.join(', ')})`, { name });
  let mod: { contender?: Contender; contenders?: readonly Contender[] };
  try {
    mod = (await import(new URL(file, import.meta.url).href)) as typeof mod;
  } catch (e) {
    throw new BenchError(BenchErrorCode.UNAVAILABLE, `contender '${name}' is not available: ${(e as Error).message.split('\n')[0]}`, { name });
  }
  const list = mod.contenders ?? (mod.contender ? [mod.contender] : []);
  const c = list.find((x) => x.name === name);
  if (c === undefined) throw new BenchError(BenchErrorCode.UNAVAILABLE, `contender '${name}' is not exported by ${file}`, { name });
  return c;
}

export function loadContender(name: string): Promise<Contender> {
  let p = cache.get(name);
  if (p === undefined) {
    p = load(name);
    cache.set(name, p);
  }
  return p;
}
