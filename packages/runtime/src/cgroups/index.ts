// The cgroups library: the runtime uses these without knowing whether the host is v1, hybrid or v2.
export { detectCgroupLayout, type CgroupHierarchy, type CgroupLayout, type ReadHostFile } from './layout';
export { cleanCgroupsPath, UNIFIED, type CgroupPaths } from './paths';
export { Cgroup, fromPaths, openCgroup, type CgroupOptions, type OpenCgroupOptions } from './cgroup';
export { DEFAULT_DEVICE_RULES, type DeviceFilterInstaller, type DeviceRule } from './devices';
export type { EventfdNative } from './oom';
export type { CgroupStats } from './stats';

export { cgroupDirsByMountpoint, containerCgroup, nativeDeviceFilter, nativeEventfd, destroyContainerCgroup, setUpContainerCgroup, signalAll, surveyContainerCgroup, specResources, thawIfFrozen } from './container';
