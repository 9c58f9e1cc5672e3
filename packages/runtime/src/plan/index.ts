export * from './compile';
export * from './encode';
export * from './host';
export { Msg, Op } from './proto';
export { MS, parseMountOptions, type ParsedMountOptions } from './mount-options';
export { awaitCgroup } from './placement';
