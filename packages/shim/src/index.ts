// containerd-shim-tsrunc-v2: the long-lived daemon containerd talks to as runtime io.containerd.tsrunc.v2.
export * from './protos';
export { CHECKPOINT_UNSUPPORTED, IDLE_EXIT_MS } from './service';
export { LINUX_RESOURCES_TYPE } from './resources';
