export * from './types';
export { KNOWN_CAPABILITIES, isKnownCapability } from './capabilities';
export type { CapabilityName } from './capabilities';
export type { ConfigWarning } from './read';
export {
  SPEC_VERSION,
  OCI_VERSION_MAX,
  parseSpec,
  validateSpec,
  parseProcess,
  validateProcess,
  parseResources,
  validateResources,
  requireProcess,
} from './validate';
export type { ValidateOptions } from './validate';
export { defaultSpec } from './defaults';
export type { DefaultSpecOptions } from './defaults';
export { readJsonFile, JSON_FILE_MAX } from './file';
