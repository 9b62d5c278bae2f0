/**
 * Layers import only downward (ARCHITECTURE.md): every relative import of a src/ module is checked against the
 * map below. A new top-level folder must be given its place here.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

const BASE = ['errors'];
const CORE = [...BASE, 'virtio', 'trace', 'sync'];
const DEVICES = ['rpmsg', 'vsock', 'console', 'entropy'];
const TRANSPORTS = ['transport', 'vhost-user'];
const BELOW_GUEST = [...CORE, 'host', ...DEVICES, ...TRANSPORTS, 'devices'];

/** What each layer may import (besides itself). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  virtio: BASE,
  sync: BASE,
  trace: [...BASE, 'virtio'],
  host: BASE,
  transport: [...CORE, 'host'],
  'vhost-user': [...CORE, 'host', 'transport'],
  rpmsg: [...CORE, 'transport'],
  vsock: [...CORE, 'transport'],
  console: [...CORE, 'transport'],
  entropy: [...CORE, 'transport'],
  devices: [...CORE, ...DEVICES, ...TRANSPORTS, 'host'],
  guest: BELOW_GUEST,
  hypervisor: [...BELOW_GUEST, 'guest'],
  openamp: [...CORE, 'host', 'rpmsg', 'transport'],
  fuzz: [...BELOW_GUEST, 'guest', 'hypervisor'],
  soak: [...BELOW_GUEST, 'guest', 'hypervisor'],
  bench: [...BELOW_GUEST, 'guest', 'hypervisor', 'openamp'],
  cli: ['*'],
  '.': ['*'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const layerOf = (file: string): string => {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : '.';
};

describe('layers', () => {
  it('every module imports only its own layer or the layers below it', () => {
    const bad: string[] = [];
    for (const f of files(SRC)) {
      const from = layerOf(f);
      const allowed = ALLOWED[from];
      if (allowed === undefined) {
        bad.push(`${relative(SRC, f)}: layer '${from}' has no place in test/layers.test.ts`);
        continue;
      }
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = normalize(join(dirname(f), m[1]!));
        if (!target.startsWith(SRC)) continue;
        const to = layerOf(target);
        if (to === from || allowed.includes('*') || allowed.includes(to)) continue;
        bad.push(`${relative(SRC, f)} imports ${m[1]} (${from} -> ${to})`);
      }
    }
    expect(bad).toEqual([]);
  });
});
