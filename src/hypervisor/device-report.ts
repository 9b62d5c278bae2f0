/**
 * The `devices` part of the run report: one entry per device of the channel, in table order, built from the plan
 * (type, transport) and both partitions' own counters (guest/device-binding.ts; RPMsg: its link statistics).
 *
 * Messages (buffers) are counted from the driver's side (the non-secure partition): `sent` by the driver, `received`
 * by it; `lost` = what one side sent and the other had not received when the run stopped (both directions; for a
 * stream device that keeps sending, the buffers in flight at the stop); `corrupted` = what either side refused as
 * malformed. The application's own check of its messages is the report's `messages`. `bytes` is payload through the device (null where the device does not count it), `notifications` the
 * notifications both sides sent for it.
 */
import type { MachineResult } from './machine.js';

export interface DeviceReport {
  readonly type: string;
  readonly transport: string;
  readonly messages: { readonly sent: number; readonly received: number; readonly lost: number; readonly corrupted: number };
  readonly bytes: number | null;
  readonly notifications: number;
  /** Handshake state at the end, driver side and device side ("live", "needs-reset", ...). */
  readonly state: { readonly driver: string; readonly device: string };
  readonly errors?: readonly string[];
}

type Rec = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function deviceReports(r: MachineResult): DeviceReport[] {
  const sRep = (r.secure.report ?? {}) as Rec;
  const nRep = (r.nonsecure.report ?? {}) as Rec;
  const sDevs = (Array.isArray(sRep['devices']) ? sRep['devices'] : []) as Rec[];
  const nDevs = (Array.isArray(nRep['devices']) ? nRep['devices'] : []) as Rec[];
  return r.devices.map((d): DeviceReport => {
    if (d.type === 'rpmsg') {
      const nsIsHost = r.rpmsg?.host !== 'secure';
      const drv = ((nsIsHost ? nRep['rpmsg'] : sRep['rpmsg']) ?? {}) as Rec;
      const dev = ((nsIsHost ? sRep['rpmsg'] : nRep['rpmsg']) ?? {}) as Rec;
      const lost = Math.max(0, num(drv['txMessages']) - num(dev['rxMessages'])) + Math.max(0, num(dev['txMessages']) - num(drv['rxMessages']));
      return {
        type: d.type,
        transport: d.transport,
        messages: { sent: num(drv['txMessages']), received: num(drv['rxMessages']), lost, corrupted: num(drv['droppedMalformed']) + num(dev['droppedMalformed']) },
        bytes: null,
        notifications: num(drv['notifications']) + num(dev['notifications']),
        state: { driver: drv['ready'] === true ? 'live' : 'down', device: dev['ready'] === true ? 'live' : 'down' },
      };
    }
    const drv = nDevs.find((x) => x['type'] === d.type) ?? {};
    const dev = sDevs.find((x) => x['type'] === d.type) ?? {};
    const m = (x: Rec) => (x['messages'] ?? {}) as Rec;
    const lost = Math.max(0, num(m(drv)['sent']) - num(m(dev)['received'])) + Math.max(0, num(m(dev)['sent']) - num(m(drv)['received']));
    const errors = [drv['error'], dev['error']].filter((e): e is string => typeof e === 'string');
    return {
      type: d.type,
      transport: d.transport,
      messages: { sent: num(m(drv)['sent']), received: num(m(drv)['received']), lost, corrupted: num(m(drv)['corrupted']) + num(m(dev)['corrupted']) },
      bytes: num(drv['bytes']),
      notifications: num(drv['notifications']) + num(dev['notifications']),
      state: { driver: typeof drv['state'] === 'string' ? drv['state'] : 'absent', device: typeof dev['state'] === 'string' ? dev['state'] : 'absent' },
      ...(errors.length > 0 ? { errors } : {}),
    };
  });
}

/** One text line per device for the report. */
export function formatDeviceReports(list: readonly DeviceReport[]): string[] {
  return list.map(
    (d) =>
      `device ${d.type.padEnd(12)} ${d.transport}: sent ${d.messages.sent}, received ${d.messages.received}, lost ${d.messages.lost}, corrupted ${d.messages.corrupted}` +
      `${d.bytes !== null ? `, ${d.bytes} bytes` : ''}, ${d.notifications} notifications; driver ${d.state.driver}, device ${d.state.device}` +
      `${d.errors ? ` (${d.errors.join('; ')})` : ''}`,
  );
}
