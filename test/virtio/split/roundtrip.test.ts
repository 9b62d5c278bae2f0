import { describe, expect, it } from 'vitest';
import { DescriptorChain, VirtioErrorCode, features, VirtioFeature } from '../../../src/virtio/index.js';
import { BUF_BASE, IND_BASE, hexBytes, makePair } from './helpers.js';

describe('split virtqueue driver and device round trip', () => {
  it('carries a single buffer from add+kick to pop, pushUsed, publishUsed and popUsed', () => {
    const { memory, driver, device } = makePair<string>(8);
    memory.write(BUF_BASE, new TextEncoder().encode('hello'));
    const id = driver.addBuffer(BUF_BASE, 5, false, 'tok');
    expect(id).toBe(0);
    expect(driver.numFree).toBe(7);
    expect(device.pending()).toBe(0); // not visible before kick
    expect(driver.kick()).toBe(true);
    expect(device.pending()).toBe(1);
    const chain = new DescriptorChain(8);
    expect(device.pop(chain)).toBe(true);
    expect(chain.head).toBe(0);
    expect(chain.count).toBe(1);
    expect(chain.readableBytes).toBe(5);
    const got = new Uint8Array(5);
    chain.readInto(memory, got);
    expect(new TextDecoder().decode(got)).toBe('hello');
    expect(device.pop(chain)).toBe(false);
    device.pushUsed(chain.head, 0);
    expect(driver.hasUsed()).toBe(false);
    expect(device.publishUsed()).toBe(true);
    expect(driver.hasUsed()).toBe(true);
    expect(driver.popUsed()).toBe('tok');
    expect(driver.lastUsedLen).toBe(0);
    expect(driver.numFree).toBe(8);
    expect(driver.popUsed()).toBeUndefined();
  });

  it('scatter-gather: readable then writable segments, written length reported', () => {
    const { memory, driver, device } = makePair<number>(8);
    driver.add([{ addr: BUF_BASE, len: 16 }, { addr: BUF_BASE + 64, len: 8 }], [{ addr: BUF_BASE + 128, len: 32 }], 42);
    driver.kick();
    const c = device.newChain();
    expect(device.pop(c)).toBe(true);
    expect(c.toJSON().segments).toEqual([
      { addr: '0x10080000', len: 16, write: false },
      { addr: '0x10080040', len: 8, write: false },
      { addr: '0x10080080', len: 32, write: true },
    ]);
    expect(c.writeFrom(memory, new Uint8Array([1, 2, 3]))).toBe(3);
    device.pushUsed(c.head, 3);
    device.publishUsed();
    expect(driver.popUsed()).toBe(42);
    expect(driver.lastUsedLen).toBe(3);
    expect(driver.numFree).toBe(8);
  });

  it('uses an indirect table when negotiated and decodes it on the device', () => {
    const f = features(VirtioFeature.INDIRECT_DESC);
    const { memory, driver, device } = makePair<number>(4, { features: f, indirect: { base: IND_BASE, tableEntries: 4 } }, { features: f });
    const head = driver.add([{ addr: BUF_BASE, len: 10 }], [{ addr: BUF_BASE + 16, len: 20 }, { addr: BUF_BASE + 64, len: 4 }], 7);
    expect(driver.numFree).toBe(3);
    driver.kick();
    // Ring descriptor: addr = table 0, len 48, flags INDIRECT.
    expect(hexBytes(memory.bytes(0x1000_0000, 16))).toBe('00000410' + '00000000' + '30000000' + '0400' + '0000');
    const c = device.newChain();
    expect(device.pop(c)).toBe(true);
    expect(c.indirect).toBe(true);
    expect(c.head).toBe(head);
    expect(c.count).toBe(3);
    expect(c.readable).toBe(1);
    expect(c.writableBytes).toBe(24);
    device.pushUsed(head, 24);
    device.publishUsed();
    expect(driver.popUsed()).toBe(7);
    expect(driver.lastUsedLen).toBe(24);
  });

  it('refuses a chain the device rejects and marks the device broken', () => {
    const { memory, driver, device, addrs } = makePair<number>(4);
    driver.addBuffer(BUF_BASE, 8, false, 1);
    memory.write16(addrs.desc + 12, 1); // NEXT
    memory.write16(addrs.desc + 14, 9); // next out of range
    driver.kick();
    const c = device.newChain();
    expect(() => device.pop(c)).toThrowError(expect.objectContaining({ code: VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE }));
    expect(device.broken?.code).toBe(VirtioErrorCode.DESC_INDEX_OUT_OF_RANGE);
    expect(device.pop(c)).toBe(false);
  });
});
