/**
 * The one base of every typed error in tz-virtio: a stable string `code` per broken rule (in the style of ws's
 * WS_ERR_* codes), free-form `details` for reports, and the code in the message (`CODE: text`) unless the layer's
 * messages are meant for people as they are (CLI, benchmarks). Each layer declares its codes as a const object and
 * a subclass that fixes the name and the code type; `hasCode` is the one type guard behind every `isXError`.
 *
 * This module sits below every layer (the virtio layer included) and imports nothing.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(name: string, code: C, message: string, details: Readonly<Record<string, unknown>> = {}, prefixCode = true) {
    super(prefixCode ? `${code}: ${message}` : message);
    this.name = name;
    this.code = code;
    this.details = details;
  }
}

/** True when `e` is an instance of `cls` (and, when given, carries `code`). */
export function hasCode<E extends CodedError>(e: unknown, cls: abstract new (...args: never[]) => E, code?: E['code']): e is E {
  return e instanceof cls && (code === undefined || e.code === code);
}
