// Typed services from .proto files, by protobufjs reflection: the caller loads the .proto files it needs at run time.
import type * as protobuf from 'protobufjs';
import type { CallOptions, Client } from './client';
import { CallContext, Code, MethodHandler, TtrpcError } from './services';

/** The TypeScript shape of one unary method. */
export interface Method<Req = any, Res = any> {
  request: Req;
  response: Res;
}

export type Methods = Record<string, Method>;

/** Server side: any method left out answers Unimplemented. */
export type Handlers<M extends Methods> = {
  [K in keyof M]?: (request: M[K]['request'], ctx: CallContext) => M[K]['response'] | Promise<M[K]['response']>;
};

/** Client side: one async function per method. */
export type Stub<M extends Methods> = {
  [K in keyof M]: (request: M[K]['request'], options?: CallOptions) => Promise<M[K]['response']>;
};

export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  decode(data: Uint8Array): T;
}

/**
 * How decoded messages look: int64 as number (values here stay below 2^53), enums as numbers,
 * bytes as Buffer, absent scalars as their proto3 default, absent messages as null.
 */
export const DEFAULT_CONVERSION: protobuf.IConversionOptions = { longs: Number, defaults: true };

// protobufjs writes every field that is set, even to its default; proto3 (and Go) leave those out. Message fields keep
// their presence, and so do oneof members.
function dropDefaults(type: protobuf.Type, message: protobuf.Message): protobuf.Message {
  const m = message as unknown as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    const v = m[field.name];
    if (v === undefined || v === null || field.repeated || field.map || field.partOf) continue;
    if (field.resolvedType && 'fieldsArray' in field.resolvedType) dropDefaults(field.resolvedType, v as protobuf.Message);
    else if (isDefault(v)) delete m[field.name];
  }
  return message;
}

function isDefault(v: unknown): boolean {
  if (v === 0 || v === '' || v === false) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v && (v as { low: number }).low === 0 && (v as { high: number }).high === 0;
}

export function messageCodec<T>(type: protobuf.Type, conversion = DEFAULT_CONVERSION): MessageCodec<T> {
  return {
    encode: (message) => type.encode(dropDefaults(type, type.fromObject(message as { [k: string]: unknown }))).finish(),
    decode: (data) => type.toObject(type.decode(data), conversion) as T,
  };
}

export interface ServiceDescriptor<M extends Methods> {
  /** Fully-qualified proto name, e.g. `containerd.task.v2.Task`. */
  name: string;
  methods: { [K in keyof M]: { request: MessageCodec<M[K]['request']>; response: MessageCodec<M[K]['response']> } };
}

/** Describes a service of a loaded protobufjs Root (load with `keepCase: true` to keep proto field names). */
export function loadService<M extends Methods = Methods>(
  root: protobuf.Root,
  name: string,
  conversion = DEFAULT_CONVERSION,
): ServiceDescriptor<M> {
  const service = root.lookupService(name);
  const methods: Record<string, { request: MessageCodec<unknown>; response: MessageCodec<unknown> }> = {};
  for (const m of service.methodsArray) {
    if (m.requestStream || m.responseStream) throw new Error(`ttrpc-ts: ${name}/${m.name}: streaming methods are not supported`);
    m.resolve();
    methods[m.name] = {
      request: messageCodec(m.resolvedRequestType!, conversion),
      response: messageCodec(m.resolvedResponseType!, conversion),
    };
  }
  return { name: service.fullName.replace(/^\./, ''), methods: methods as ServiceDescriptor<M>['methods'] };
}

/** Turns typed handlers into wire handlers for Server.register (under desc.name or any alias). */
export function implement<M extends Methods>(desc: ServiceDescriptor<M>, impl: Handlers<M>): Record<string, MethodHandler> {
  const handlers: Record<string, MethodHandler> = {};
  for (const name of Object.keys(desc.methods) as (keyof M & string)[]) {
    const fn = impl[name];
    if (!fn) continue;
    const { request, response } = desc.methods[name];
    handlers[name] = async (payload, ctx) => {
      let req: M[typeof name]['request'];
      try {
        req = request.decode(payload);
      } catch (err) {
        throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
      }
      return response.encode(await fn.call(impl, req, ctx));
    };
  }
  return handlers;
}

/** A typed client for a service; `service` overrides the name sent on the wire (e.g. a v3 alias). */
export function stub<M extends Methods>(client: Client, desc: ServiceDescriptor<M>, service = desc.name): Stub<M> {
  const out: Record<string, (req: unknown, options?: CallOptions) => Promise<unknown>> = {};
  for (const name of Object.keys(desc.methods)) {
    const { request, response } = desc.methods[name];
    out[name] = async (req, options) => response.decode(await client.call(service, name, request.encode(req), options));
  }
  return out as Stub<M>;
}
