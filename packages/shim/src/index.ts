// containerd-shim-tsrunc-v2: the long-lived daemon containerd talks to as runtime io.containerd.tsrunc.v2.
export * from './protos';
