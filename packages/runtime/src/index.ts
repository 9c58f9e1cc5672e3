// The runtime library: the CLI is a thin shell over these, and the shim calls them in-process.
export * from './container';
export * from './plan';
