/**
 * Byte-exact register offsets: a C program compiled with gcc against the system's Linux UAPI header
 * (/usr/include/linux/virtio_mmio.h) prints every VIRTIO_MMIO_* macro, and each must equal ours.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MMIO_MAGIC, MmioInterrupt, MmioLegacyReg, MmioReg } from '../../../src/virtio/index.js';

const HEADER = '/usr/include/linux/virtio_mmio.h';
const haveGcc = (() => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return existsSync(HEADER);
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'tz-virtio-mmio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Our name for each header macro (the header predates QueueReset, so QUEUE_RESET is ours only). */
const OURS: Record<string, number> = {
  VIRTIO_MMIO_MAGIC_VALUE: MmioReg.MAGIC_VALUE,
  VIRTIO_MMIO_VERSION: MmioReg.VERSION,
  VIRTIO_MMIO_DEVICE_ID: MmioReg.DEVICE_ID,
  VIRTIO_MMIO_VENDOR_ID: MmioReg.VENDOR_ID,
  VIRTIO_MMIO_DEVICE_FEATURES: MmioReg.DEVICE_FEATURES,
  VIRTIO_MMIO_DEVICE_FEATURES_SEL: MmioReg.DEVICE_FEATURES_SEL,
  VIRTIO_MMIO_DRIVER_FEATURES: MmioReg.DRIVER_FEATURES,
  VIRTIO_MMIO_DRIVER_FEATURES_SEL: MmioReg.DRIVER_FEATURES_SEL,
  VIRTIO_MMIO_GUEST_PAGE_SIZE: MmioLegacyReg.GUEST_PAGE_SIZE,
  VIRTIO_MMIO_QUEUE_SEL: MmioReg.QUEUE_SEL,
  VIRTIO_MMIO_QUEUE_NUM_MAX: MmioReg.QUEUE_NUM_MAX,
  VIRTIO_MMIO_QUEUE_NUM: MmioReg.QUEUE_NUM,
  VIRTIO_MMIO_QUEUE_ALIGN: MmioLegacyReg.QUEUE_ALIGN,
  VIRTIO_MMIO_QUEUE_PFN: MmioLegacyReg.QUEUE_PFN,
  VIRTIO_MMIO_QUEUE_READY: MmioReg.QUEUE_READY,
  VIRTIO_MMIO_QUEUE_NOTIFY: MmioReg.QUEUE_NOTIFY,
  VIRTIO_MMIO_INTERRUPT_STATUS: MmioReg.INTERRUPT_STATUS,
  VIRTIO_MMIO_INTERRUPT_ACK: MmioReg.INTERRUPT_ACK,
  VIRTIO_MMIO_STATUS: MmioReg.STATUS,
  VIRTIO_MMIO_QUEUE_DESC_LOW: MmioReg.QUEUE_DESC_LOW,
  VIRTIO_MMIO_QUEUE_DESC_HIGH: MmioReg.QUEUE_DESC_HIGH,
  // the header keeps the pre-1.0 names AVAIL/USED for the driver and device areas
  VIRTIO_MMIO_QUEUE_AVAIL_LOW: MmioReg.QUEUE_DRIVER_LOW,
  VIRTIO_MMIO_QUEUE_AVAIL_HIGH: MmioReg.QUEUE_DRIVER_HIGH,
  VIRTIO_MMIO_QUEUE_USED_LOW: MmioReg.QUEUE_DEVICE_LOW,
  VIRTIO_MMIO_QUEUE_USED_HIGH: MmioReg.QUEUE_DEVICE_HIGH,
  VIRTIO_MMIO_SHM_SEL: MmioReg.SHM_SEL,
  VIRTIO_MMIO_SHM_LEN_LOW: MmioReg.SHM_LEN_LOW,
  VIRTIO_MMIO_SHM_LEN_HIGH: MmioReg.SHM_LEN_HIGH,
  VIRTIO_MMIO_SHM_BASE_LOW: MmioReg.SHM_BASE_LOW,
  VIRTIO_MMIO_SHM_BASE_HIGH: MmioReg.SHM_BASE_HIGH,
  VIRTIO_MMIO_CONFIG_GENERATION: MmioReg.CONFIG_GENERATION,
  VIRTIO_MMIO_CONFIG: MmioReg.CONFIG,
  VIRTIO_MMIO_INT_VRING: MmioInterrupt.VRING,
  VIRTIO_MMIO_INT_CONFIG: MmioInterrupt.CONFIG,
};

describe.skipIf(!haveGcc)('virtio-mmio offsets against linux/virtio_mmio.h (gcc)', () => {
  it('every VIRTIO_MMIO_* macro of the header equals our constant', () => {
    const names = Object.keys(OURS);
    const src = [
      '#include <stdio.h>',
      '#include <string.h>',
      '#include <linux/virtio_mmio.h>',
      'int main(void) {',
      '  printf("{");',
      ...names.map((n, i) => `  printf("%s\\"${n}\\": %lu", ${i === 0 ? '""' : '","'}, (unsigned long)(${n}));`),
      // "virt" in little-endian, computed by the C side from the string itself
      '  { unsigned int m; memcpy(&m, "virt", 4); printf(",\\"MAGIC\\": %u", m); }',
      '  printf("}\\n");',
      '  return 0;',
      '}',
    ].join('\n');
    writeFileSync(join(dir, 'mmio.c'), src);
    execFileSync('gcc', ['-std=c11', '-Wall', '-Werror', '-o', join(dir, 'mmio'), join(dir, 'mmio.c')]);
    const fromC = JSON.parse(execFileSync(join(dir, 'mmio'), { encoding: 'utf8' })) as Record<string, number>;
    for (const n of names) expect({ [n]: fromC[n] }).toEqual({ [n]: OURS[n] });
    expect(fromC['MAGIC']).toBe(MMIO_MAGIC);
  });

  it('our table covers every VIRTIO_MMIO_ offset macro the header defines', () => {
    // gcc -dM lists every macro the header defines: none may be missing from OURS (QueueReset is newer than it).
    writeFileSync(join(dir, 'only.c'), '#include <linux/virtio_mmio.h>\n');
    const macros = execFileSync('gcc', ['-E', '-dM', join(dir, 'only.c')], { encoding: 'utf8' })
      .split('\n')
      .map((l) => /^#define (VIRTIO_MMIO_[A-Z0-9_]+) /.exec(l)?.[1])
      .filter((n): n is string => n !== undefined && n !== 'VIRTIO_MMIO_NO_LEGACY');
    expect(macros.length).toBeGreaterThan(30);
    expect(macros.filter((m) => !(m in OURS))).toEqual([]);
  });
});
