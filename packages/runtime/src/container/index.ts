export * from './create';
export * from './start';
export * from './kill';
export * from './delete';
export * from './run';
export * from './list';
export { ContainerDir, ContainerState, validateId } from './state-dir';
export { Status } from './status';
