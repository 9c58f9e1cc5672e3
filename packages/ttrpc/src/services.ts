// Service registry and the error model: handlers throw TtrpcError (a gRPC status) or any error, which is mapped to one.
import type { AnyMessage, StatusMessage } from './channel';

/** gRPC status codes, carried verbatim in google.rpc.Status.code. */
export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/** An error that travels as a google.rpc.Status: thrown by handlers, rejected by client calls. */
export class TtrpcError extends Error {
  override name = 'TtrpcError';

  constructor(
    readonly code: Code,
    message: string,
    readonly details: AnyMessage[] = [],
  ) {
    super(message);
  }

  static fromStatus(status: StatusMessage): TtrpcError {
    return new TtrpcError(status.code, status.message, status.details);
  }
}

/** The connection is gone: every call pending on it, and every later call, fails with this. */
export class ClosedError extends Error {
  override name = 'ClosedError';

  constructor(cause?: Error) {
    super(cause ? `ttrpc: closed: ${cause.message}` : 'ttrpc: closed', { cause });
  }
}

// Like ttrpc's convertCode: errors that are not statuses still get a meaningful code.
const errnoCodes: Record<string, Code> = {
  ENOENT: Code.NotFound,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EINVAL: Code.InvalidArgument,
  EPIPE: Code.FailedPrecondition,
};

export function toStatus(err: unknown): StatusMessage {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message, details: err.details };
  // Duck-typed rather than instanceof Error: errors may come from another realm (vm contexts, jest).
  if (typeof err === 'object' && err !== null && typeof (err as Error).message === 'string') {
    const { name, message, code: errno } = err as NodeJS.ErrnoException;
    if (name === 'AbortError') return { code: Code.Canceled, message, details: [] };
    const code = typeof errno === 'string' && Object.hasOwn(errnoCodes, errno) ? errnoCodes[errno] : Code.Unknown;
    return { code, message, details: [] };
  }
  return { code: Code.Unknown, message: String(err), details: [] };
}

export interface CallContext {
  service: string;
  method: string;
  /** Request headers; keys are lower-case, a key may carry several values. */
  metadata: Map<string, string[]>;
  /** Aborted when the deadline (timeout_nano) passes or the connection closes. */
  signal: AbortSignal;
}

/** A method on the wire: request payload bytes in, response payload bytes out. */
export type MethodHandler = (payload: Buffer, ctx: CallContext) => Uint8Array | Promise<Uint8Array>;

export class ServiceRegistry {
  private readonly services = new Map<string, Map<string, MethodHandler>>();

  /** Registers `methods` under a fully-qualified service name; one implementation may be registered under several names. */
  register(service: string, methods: Record<string, MethodHandler>): void {
    if (this.services.has(service)) throw new Error(`ttrpc: service ${service} already registered`);
    this.services.set(service, new Map(Object.entries(methods)));
  }

  /** The handler for service/method, or a TtrpcError(Unimplemented) worded like ttrpc's. */
  resolve(service: string, method: string): MethodHandler {
    const methods = this.services.get(service);
    if (!methods) throw new TtrpcError(Code.Unimplemented, `service ${service}`);
    const handler = methods.get(method);
    if (!handler) throw new TtrpcError(Code.Unimplemented, `method ${method}`);
    return handler;
  }
}
