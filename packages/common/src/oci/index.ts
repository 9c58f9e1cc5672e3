export * from './types';
export { KNOWN_CAPABILITIES, CapabilityName, isKnownCapability } from './capabilities';
export { ConfigWarning } from './read';
export {
  SPEC_VERSION,
  ValidateOptions,
  parseSpec,
  validateSpec,
  parseProcess,
  validateProcess,
  requireProcess,
  parseResources,
  validateResources,
} from './validate';
export { DefaultSpecOptions, defaultSpec } from './defaults';
