/**
 * OpenAMP's generic Linux machine (openamp-system-reference, examples/legacy_apps/system/linux/machine/generic,
 * read at commit 843ec100 of May 2026): two Linux processes share one file and kick each other over a UNIX socket.
 *
 *   file offset = bus address (its metal_io ops map phys <-> offset 1:1)
 *   0x00000  resource table: {ver 1, num 1, offset[1] = 20}, fw_rsc_vdev {type 3, id 7, notifyid 0,
 *            dfeatures = 1 << VIRTIO_RPMSG_F_NS, gfeatures 0, config_len 0, status 0, 2 vrings},
 *            vring0 {da 0x4000, align 0x1000, num 256, notifyid 1}, vring1 {da 0x8000, align 0x1000, num 256, notifyid 2}
 *   0x04000  vring0 (host RX / remote TX)          0x08000  vring1 (host TX / remote RX)
 *   0x10000  buffer pool, 0x40000 bytes of 512-byte buffers: the host allocates its 256 RX buffers first
 *            (0x10000-0x2ffff, posted on vring0 before DRIVER_OK), then TX buffers on demand from 0x30000
 *   0x80000  end of file (shm_open("openamp.shm") = /dev/shm/openamp.shm on Linux)
 *
 * Kicks: one byte on the AF_UNIX stream socket /tmp/openamp.event.0; the receiver rescans every virtqueue. The
 * socket server ("unixs:", proc 0, the echo remote by default) writes the resource table before accepting.
 */
import { PhysicalMemory } from '../virtio/memory.js';
import { encodeResourceTable, type ResourceTable } from '../rpmsg/resource-table.js';
import { layoutFromResourceTable, type RpmsgLayout } from '../rpmsg/layout.js';
import { VIRTIO_ID_RPMSG, VIRTIO_RPMSG_F_NS } from '../rpmsg/constants.js';

export const OPENAMP_SHM_PATH = '/dev/shm/openamp.shm';
export const OPENAMP_SOCKET_PATH = '/tmp/openamp.event.0';
export const OPENAMP_SHM_SIZE = 0x80000;
export const OPENAMP_RSC_TABLE = 0x0;
export const OPENAMP_VRING0_DA = 0x4000;
export const OPENAMP_VRING1_DA = 0x8000;
export const OPENAMP_VRING_ALIGN = 0x1000;
export const OPENAMP_VRING_NUM = 256;
export const OPENAMP_SHARED_BUF = 0x10000;
export const OPENAMP_SHARED_BUF_SIZE = 0x40000;
export const OPENAMP_BUFFER_SIZE = 512;
/** The echo demo's service (rpmsg-echo.h) and its shutdown word (rpmsg-echo.c). */
export const OPENAMP_ECHO_SERVICE = 'rpmsg-openamp-demo-channel';
export const OPENAMP_SHUTDOWN_WORD = 0xef56a55a;

export interface OpenAmpLayoutOptions {
  /** Vring size (entries); default 256. */
  readonly vringNum?: number;
  /** Buffer size; default 512. */
  readonly bufferSize?: number;
}

/** The resource table OpenAMP's Linux machine writes (rsc_table.c): one RPMsg vdev, NS only, two vrings. */
export function openampResourceTable(o: OpenAmpLayoutOptions = {}): ResourceTable {
  const num = o.vringNum ?? OPENAMP_VRING_NUM;
  return {
    version: 1,
    entries: [
      {
        type: 'vdev',
        id: VIRTIO_ID_RPMSG,
        notifyid: 0,
        dfeatures: 1 << VIRTIO_RPMSG_F_NS,
        gfeatures: 0,
        status: 0,
        vrings: [
          { da: OPENAMP_VRING0_DA, align: OPENAMP_VRING_ALIGN, num, notifyid: 1, pa: 0 },
          { da: OPENAMP_VRING1_DA, align: OPENAMP_VRING_ALIGN, num, notifyid: 2, pa: 0 },
        ],
        config: new Uint8Array(0),
      },
    ],
  };
}

export function encodeOpenampResourceTable(o: OpenAmpLayoutOptions = {}): Uint8Array {
  return encodeResourceTable(openampResourceTable(o));
}

/** The buffer pool as the RPMsg roles see it: 2 x vringNum buffers from 0x10000, RX half first, TX half from 0x30000. */
export function openampBuffers(o: OpenAmpLayoutOptions = {}): RpmsgLayout['buffers'] {
  const num = o.vringNum ?? OPENAMP_VRING_NUM;
  const size = o.bufferSize ?? OPENAMP_BUFFER_SIZE;
  return { base: OPENAMP_SHARED_BUF, size, count: 2 * num };
}

/** A PhysicalMemory whose only region is the mapped file at bus address 0 (bus address = file offset). */
export function fileMemory(sab: SharedArrayBuffer): PhysicalMemory {
  return new PhysicalMemory([{ name: 'openamp.shm', base: 0, size: sab.byteLength, buffer: sab }]);
}

/** The layout the table in `memory` describes, with OpenAMP's buffer pool. */
export function openampLayout(memory: PhysicalMemory, o: OpenAmpLayoutOptions = {}): RpmsgLayout {
  return layoutFromResourceTable(memory, OPENAMP_RSC_TABLE, openampBuffers(o));
}
