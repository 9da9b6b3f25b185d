/**
 * Typed errors for libsure's negative-errno returns.
 *
 * libsure returns 0 (or a byte count) on success and -errno on failure; this
 * module turns the number into an Error subclass so that callers branch on
 * `instanceof` instead of magic numbers, and keeps the C side's one-line
 * explanation (the err buffer) as the message.
 */

import { Errno } from "./abi.ts";

/** The errno values libsure returns negated (generated from <errno.h> in ffi/abi.ts). */
export { Errno };

const NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Errno).map(([k, v]) => [v, k]),
);

/** "ETIMEDOUT" for 110; "E<n>" for numbers this table does not know. */
export function errnoName(errno: number): string {
  return NAMES[errno] ?? `E${errno}`;
}

/** Any failure reported by libsure; `errno` is positive. */
export class SureError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly op: string;
  constructor(op: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    super(detail ? `${op}: ${detail} (${code})` : `${op} failed: ${code}`);
    this.name = new.target.name;
    this.errno = errno;
    this.code = code;
    this.op = op;
  }
}

/** -ETIMEDOUT: the guest did not answer in time; the instance is dead. */
export class SureTimeoutError extends SureError {}
/** -EFAULT: the guest faulted; read Instance.fault(). The instance is dead. */
export class SureFaultError extends SureError {}
/** -EPROTO: the guest broke the shared-memory protocol. The instance is dead. */
export class SureProtocolError extends SureError {}
/** -EPIPE: the instance was already dead. */
export class SureDeadError extends SureError {}
/** -EBUSY: a request is already in flight on this instance. */
export class SureBusyError extends SureError {}
/** -E2BIG: the request does not fit the request area. */
export class SureTooBigError extends SureError {}
/** -EINVAL: a bad argument, e.g. an image the checker rejected. */
export class SureInvalidError extends SureError {}
/** -ENOENT/-ENODEV/-EACCES/-EPERM/-ENOSYS from the KVM probe or VM setup. */
export class SureUnavailableError extends SureError {}

/** Builds the matching SureError subclass for a negative return value. */
export function errorFromErrno(op: string, rc: number, detail?: string): SureError {
  const errno = -rc;
  switch (errno) {
    case Errno.ETIMEDOUT:
      return new SureTimeoutError(op, errno, detail);
    case Errno.EFAULT:
      return new SureFaultError(op, errno, detail);
    case Errno.EPROTO:
      return new SureProtocolError(op, errno, detail);
    case Errno.EPIPE:
      return new SureDeadError(op, errno, detail);
    case Errno.EBUSY:
      return new SureBusyError(op, errno, detail);
    case Errno.E2BIG:
      return new SureTooBigError(op, errno, detail);
    case Errno.EINVAL:
      return new SureInvalidError(op, errno, detail);
    case Errno.ENOENT:
    case Errno.ENODEV:
    case Errno.EACCES:
    case Errno.EPERM:
    case Errno.ENOSYS:
    case Errno.EOPNOTSUPP:
      return new SureUnavailableError(op, errno, detail);
    default:
      return new SureError(op, errno, detail);
  }
}

/**
 * True for the invoke failures after which libsure.h says the instance is
 * dead and must be destroyed.
 */
export function isFatal(err: unknown): boolean {
  return err instanceof SureTimeoutError || err instanceof SureFaultError ||
    err instanceof SureProtocolError || err instanceof SureDeadError;
}

/** Raised when libsure.so cannot be found or opened. */
export class LibsureLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LibsureLoadError";
  }
}
