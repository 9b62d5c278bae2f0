import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePair, startPair } from './helpers.js';
import { scratchDir } from '../support/scratch.js';
import { dumpRegion, inspectRpmsgImage, rpmsgImageReport, RpmsgError, RpmsgErrorCode } from '../../src/rpmsg/index.js';
import { rpmsgImageReport as viaPath } from '../../src/rpmsg/inspect.js';

describe('region dump and inspect', () => {
  it('dumps the region with its layout JSON and decodes table, rings and messages', () => {
    const p = makePair({ numBuffers: 16, align: 64 });
    startPair(p);
    p.host.createEndpoint({ addr: 1024, name: 'console' }); // NS announcement host -> remote (consumed below)
    p.remote.poll();
    p.remote.createEndpoint({ addr: 2000, dst: 1024 }).trySend(new TextEncoder().encode('hello host'));
    p.host.endpoint(1024)!.trySendTo(2000, new Uint8Array([0xde, 0xad, 0xbe, 0xef])); // pending on vring1
    const dir = scratchDir('rpmsg-dump-');
    const path = join(dir, 'region.bin');
    const info = dumpRegion(p.memory, p.layout, path);
    const json = JSON.parse(readFileSync(path + '.json', 'utf8'));
    expect(json).toEqual(JSON.parse(JSON.stringify(info)));
    expect(json).toMatchObject({ base: p.layout.base, size: p.layout.size, rscTable: p.layout.rscTable, vring0: { da: p.layout.vring0.da, align: 64, num: 8 }, buffers: { count: 16, size: 512 } });
    const image = new Uint8Array(readFileSync(path));
    expect(image.length).toBe(p.layout.size);
    const r = rpmsgImageReport(image, { rscTable: json.rscTable, base: json.base });
    expect(viaPath).toBe(rpmsgImageReport);
    expect(r.errors).toEqual([]);
    expect(r.vdev!.statusNames).toContain('DRIVER_OK');
    expect(r.table.entries.map((e) => (e as { type: string }).type)).toEqual(['vdev', 'carveout']);
    const ns = r.messages.find((m) => m.ns !== undefined)!;
    expect(ns).toMatchObject({ vring: 1, state: 'used', header: { src: 1024, dst: 53, len: 40 }, ns: { name: 'console', addr: 1024, type: 'create' } });
    const hello = r.messages.find((m) => m.vring === 0)!;
    expect(hello).toMatchObject({ state: 'used', header: { src: 2000, dst: 1024, len: 10 }, text: 'hello host', payloadHex: Buffer.from('hello host').toString('hex') });
    const pending = r.messages.find((m) => m.state === 'pending')!;
    expect(pending).toMatchObject({ vring: 1, header: { src: 1024, dst: 2000, len: 4 }, payloadHex: 'deadbeef' });
    const text = inspectRpmsgImage(image, { rscTable: json.rscTable, base: json.base, json: false });
    expect(text).toContain("name service CREATE 'console' addr 1024");
    expect(text).toContain('txt hello host');
    expect(JSON.parse(inspectRpmsgImage(image, { rscTable: json.rscTable, base: json.base, json: true })).messages.length).toBe(r.messages.length);
  });

  it('reports bad buffers instead of throwing, and a bad table with a typed error', () => {
    const p = makePair({ numBuffers: 4, align: 64 });
    startPair(p);
    p.remote.createEndpoint({ addr: 2000, dst: 1024 }).trySend(new Uint8Array(3));
    const image = p.memory.bytes(p.layout.base, p.layout.size).slice();
    const bufOff = p.layout.buffers.base - p.layout.base;
    new DataView(image.buffer).setUint16(bufOff + 12, 9999, true);
    const r = rpmsgImageReport(image, { rscTable: p.layout.rscTable, base: p.layout.base });
    expect(r.messages[0]!.error).toContain('exceeds');
    expect(() => inspectRpmsgImage(image, { rscTable: p.layout.base + image.length, base: p.layout.base, json: false })).toThrow(RpmsgErrorCode.IMAGE);
    const bad = image.slice();
    bad[0] = 9;
    expect(() => inspectRpmsgImage(bad, { rscTable: p.layout.rscTable, base: p.layout.base, json: true })).toThrow(RpmsgError);
    // a vring outside the image is a reported error
    const trunc = image.slice(0, p.layout.vring1.da - p.layout.base + 8);
    const t = rpmsgImageReport(trunc, { rscTable: p.layout.rscTable, base: p.layout.base });
    expect(t.errors.length).toBe(1);
  });
});
