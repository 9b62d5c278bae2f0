/**
 * RPMsg over VirtIO, wire-compatible with Linux virtio_rpmsg_bus and OpenAMP.
 *
 * ## Shared region
 * `planRpmsgRegion({ base, size?, numBuffers = 512 (total, half per direction = vring num), bufferSize = 512,
 * align = 4096, features = NS | EVENT_IDX })` returns an `RpmsgLayout` (plain data: resource table, vring0, vring1,
 * buffer pool addresses); `writeResourceTable(memory, plan)` writes its table (vdev id 7 with two vrings, carveout
 * "vdev0buffer" for the pool). `layoutFromResourceTable(memory, addr)` reads a layout back from a table.
 *
 * ## Roles (single-threaded, transport-agnostic)
 *   const host = new RpmsgHost(memory, layout, { transport: { notify(vq) {...} } });  host.start();
 *   const remote = new RpmsgRemote(memory, layout.rscTable, { transport });           // attaches in poll()
 * - The embedding code calls `poll()` (or `onInterrupt(vq)`) when the other side notified it, or whenever it wants;
 *   everything (receiving, reclaiming TX buffers, waking waiting senders, remote attach at DRIVER_OK) happens in
 *   there. `transport.notify(vq)` is called only when the virtqueue says the peer wants it (EVENT_IDX or flags).
 *   vq 0 = vring0 (host RX / remote TX), vq 1 = vring1 (host TX / remote RX).
 * - `host.cork()` / `uncork()` (and the same on the remote) publish a burst with one index update. poll() corks
 *   itself: sends made by callbacks are published once, when the poll ends. A wait for a TX buffer (send(),
 *   *Blocking) publishes corked sends first.
 * - Receive batches: poll() publishes returned RX buffers every min(64, num/4) messages and at its end, and turns
 *   per-message RX notifications off for a burst (back on, with a last look, before it returns).
 * - `armRx()` / `disarmRx()`: a polling receiver disarms (the peer stops notifying it; no shared store per
 *   message); before sleeping it arms again, and sleeps only when armRx() returned true (false: messages waiting).
 *   Default: armed.
 * - State: `ready`, `needsReset`, `lastError`, `stats` (counters: drops, malformed, notifications, ...).
 *   Remote: poll() never throws because of what the host writes, whenever it writes it (a broken ring or table sets
 *   DEVICE_NEEDS_RESET in the vdev status and counts stats.peerErrors; a host reset is a detach, `hostResets`);
 *   `state` is 'waiting' | 'ready' | 'needs-reset' outside poll(); its announcements never wait for a TX buffer
 *   (one without a buffer is sent at a later poll()). Host:
 *   sees it in poll() (`needsReset`), then `host.reset(); host.start()`; the remote re-attaches by itself, also when
 *   it never saw the status at 0 (it finds the new rings from used.idx, in poll() or in its next send).
 * - After a reset both roles forget the peer: `services`, and endpoint `dst` addresses learnt from a first message
 *   or an announcement (addresses given by the creator stay); named endpoints are announced again.
 * - `host.start({ kick: true })` notifies vring0 after DRIVER_OK (Linux's probe does; default off).
 * - Remote options: `bufferWindow` (default: the "vdev0buffer" pool; the table and vrings are always cut out of it;
 *   `remote.bufferWindow` tells the window in force), `consumedUsedLen: 'zero' | 'descriptor'` (used.len of a
 *   consumed host-TX buffer: 0 as VIRTIO says, or the descriptor length as OpenAMP reports it; default 'zero').
 * - `maxServices` (both roles, default 1024): announcements of new names beyond it are dropped and counted
 *   (`stats.droppedNameService`).
 *
 * ## On any transport of the device seam
 *   new RpmsgDevice({ queueMaxSize?, features?, packed? })  // VirtioDevice, type 7: `.role` is an RpmsgRemote
 *   new RpmsgDriver({ queueSize?, bufferSize?, packed? })    // VirtioDriver: `.role` is an RpmsgHost
 * The transport (LoopbackTransport, virtio-mmio, …) sets up the two queues and the pool; the roles then work exactly as
 * above, same bytes on the rings. Registered in src/devices/index.ts as "rpmsg".
 *
 * ## Endpoints
 *   const ep = role.createEndpoint({ name?, addr?, dst?, announce?, onMessage?(msg, ep), onUnbind?, queueLimit? })
 * - Named endpoints are announced (name service, address 53) when VIRTIO_RPMSG_F_NS is negotiated; the peer binds a
 *   same-named endpoint or gets `onNameService({type, name, addr})` and `role.services` (name -> address).
 * - Dynamic addresses from 1024; RPMSG_ADDR_ANY = unbound (learns dst from the first message received).
 * - Send (copy): `trySend(data) / trySendTo(dst, data)` -> boolean (false: no TX buffer);
 *   `send(data, { timeoutMs }) / sendTo(...)` -> Promise (waits for a buffer freed by a later poll(), TX_TIMEOUT);
 *   `sendBlocking(data, timeoutMs) / sendToBlocking(...)` (waits through options.waitForNotification, then polls).
 *   A payload above the buffer's payload area throws PAYLOAD_TOO_LARGE.
 * - Zero-copy TX: `const b = ep.getTxBuffer()` (or `role.waitTxBuffer(ms)` / `role.waitTxBufferBlocking(ms)`),
 *   write `b.data` (capacity `b.capacity`), `ep.sendNoCopy(b, len, dst?)`, or `role.releaseTxBuffer(b)`.
 * - Receive: `onMessage(msg)` gets a zero-copy view (`msg.data`, valid during the callback); `msg.hold()` keeps the
 *   buffer out of the ring until `msg.release()`. Without a callback, copies are queued for `await ep.receive(ms)`
 *   and `for await (const m of ep)`. The message object and its `data` view are reused for later messages of the
 *   same ring buffer (no allocation per message): keep neither past the callback unless held; copy with
 *   `msg.copyTo(dst, offset)` (no allocation) or `msg.copy()`. A throwing callback is counted (stats.callbackErrors,
 *   options.onCallbackError) and the rest of the batch is still delivered.
 * - Errors: RpmsgError with stable `code` (RpmsgErrorCode).
 *
 * ## Tools
 * `dumpRegion(memory, layout, path)` writes the region and path.json; `inspectRpmsgImage(image, { rscTable, base,
 * json })` decodes a dumped region (tz-virtio inspect --rpmsg).
 */
export * from './errors.js';
export * from './constants.js';
export * from './header.js';
export * from './name-service.js';
export * from './resource-table.js';
export * from './layout.js';
export * from './window.js';
export * from './buffers.js';
export * from './endpoint.js';
export * from './core.js';
export * from './host.js';
export * from './remote.js';
export * from './device.js';
export * from './driver.js';
export * from './dump.js';
export * from './inspect.js';
