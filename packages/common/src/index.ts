export * from './errors';
export * from './native';
export * from './oci';
export * from './signals';
export * from './log';
export * from './stop';
