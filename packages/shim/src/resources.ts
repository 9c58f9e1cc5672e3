// UpdateTaskRequest.resources: an OCI linux.resources object as JSON in an Any, as containerd packs it. Checked field
// by field as `tsrunc update --resources` checks its file; what is wrong is InvalidArgument, named.
import { parseResources, type LinuxResources } from '@tsrunc/common';
import { Code, TtrpcError } from 'ttrpc-ts';
import type { AnyMessage } from './protos';

export const LINUX_RESOURCES_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources';

export function decodeResources(any: AnyMessage | null): LinuxResources {
  if (!any || any.value.length === 0) throw new TtrpcError(Code.InvalidArgument, 'update: no resources given');
  if (any.type_url !== LINUX_RESOURCES_TYPE) {
    throw new TtrpcError(Code.InvalidArgument, `update: resources of type ${JSON.stringify(any.type_url)}: expected ${LINUX_RESOURCES_TYPE}`);
  }
  try {
    return parseResources(any.value.toString('utf8'), 'resources');
  } catch (err) {
    throw new TtrpcError(Code.InvalidArgument, `update: ${(err as Error).message}`);
  }
}
