/**
 * Conformance against the Linux uapi header <linux/virtio_vsock.h>, compiled with the system C compiler: struct sizes,
 * field offsets, enum values, and the bytes of one header per op written through the C struct.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  VIRTIO_ID_VSOCK,
  VIRTIO_VSOCK_F_SEQPACKET,
  VSOCK_CONFIG_SIZE,
  VSOCK_EVENT_SIZE,
  VSOCK_EVENT_TRANSPORT_RESET,
  VSOCK_HEADER_SIZE,
  VSOCK_SEQ_EOM,
  VSOCK_SEQ_EOR,
  VSOCK_SHUTDOWN_RCV,
  VSOCK_SHUTDOWN_SEND,
  VsockHeaderOffset,
  VsockOp,
  VsockType,
  decodeVsockHeader,
  encodeVsockHeader,
} from '../../src/vsock/index.js';

const CC = process.env['CC'] ?? '/usr/bin/gcc';
const SOURCE = fileURLToPath(new URL('./fixtures/vsock_ref.c', import.meta.url));
const haveC = existsSync(CC) && existsSync('/usr/include/linux/virtio_vsock.h');

interface Ref {
  sizeof: { hdr: number; config: number; event: number };
  offsetof: Record<string, number>;
  values: Record<string, number>;
  headers: string[];
}

let dir: string | undefined;
function ref(): Ref {
  dir = mkdtempSync(join(tmpdir(), 'tz-virtio-vsock-ref-'));
  const bin = join(dir, 'vsock_ref');
  execFileSync(CC, ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', bin, SOURCE], { stdio: 'pipe' });
  return JSON.parse(execFileSync(bin, { encoding: 'utf8' })) as Ref;
}

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!haveC)('vsock structs match <linux/virtio_vsock.h> (needs a C compiler and the uapi headers)', () => {
  const r = haveC ? ref() : undefined;

  it('struct sizes', () => {
    expect(r!.sizeof).toEqual({ hdr: VSOCK_HEADER_SIZE, config: VSOCK_CONFIG_SIZE, event: VSOCK_EVENT_SIZE });
  });

  it('field offsets', () => {
    expect(r!.offsetof).toEqual({ ...VsockHeaderOffset, guestCid: 0, eventId: 0 });
  });

  it('enum values', () => {
    expect(r!.values).toEqual({
      VIRTIO_ID_VSOCK,
      F_SEQPACKET: VIRTIO_VSOCK_F_SEQPACKET,
      TYPE_STREAM: VsockType.STREAM,
      TYPE_SEQPACKET: VsockType.SEQPACKET,
      OP_INVALID: VsockOp.INVALID,
      OP_REQUEST: VsockOp.REQUEST,
      OP_RESPONSE: VsockOp.RESPONSE,
      OP_RST: VsockOp.RST,
      OP_SHUTDOWN: VsockOp.SHUTDOWN,
      OP_RW: VsockOp.RW,
      OP_CREDIT_UPDATE: VsockOp.CREDIT_UPDATE,
      OP_CREDIT_REQUEST: VsockOp.CREDIT_REQUEST,
      SHUTDOWN_RCV: VSOCK_SHUTDOWN_RCV,
      SHUTDOWN_SEND: VSOCK_SHUTDOWN_SEND,
      SEQ_EOM: VSOCK_SEQ_EOM,
      SEQ_EOR: VSOCK_SEQ_EOR,
      EVENT_TRANSPORT_RESET: VSOCK_EVENT_TRANSPORT_RESET,
    });
  });

  it('one header per op: our encoder writes the bytes the C struct holds, and decodes them back', () => {
    for (let op = 1; op <= 7; op++) {
      const h = {
        srcCid: 3 + 0x1_0000_0000 * (op === 5 ? 1 : 0),
        dstCid: 2,
        srcPort: 0x40000000 + op,
        dstPort: 1234,
        len: op === 5 ? 4096 : 0,
        type: VsockType.STREAM,
        op,
        flags: op === 4 ? 3 : 0,
        bufAlloc: 262144,
        fwdCnt: (0x01020304 * op) >>> 0,
      };
      const c = r!.headers[op - 1]!;
      expect(Buffer.from(encodeVsockHeader(h)).toString('hex')).toBe(c);
      expect(decodeVsockHeader(Buffer.from(c, 'hex'))).toEqual(h);
    }
  });
});
