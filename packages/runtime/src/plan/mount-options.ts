// mount(2) flags from OCI mount options, as runc's parseMountOptions maps them.
export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10, REMOUNT: 0x20, MANDLOCK: 0x40,
  DIRSYNC: 0x80, NOSYMFOLLOW: 0x100, NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000, MOVE: 0x2000,
  REC: 0x4000, SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000, SLAVE: 0x80000, SHARED: 0x100000,
  RELATIME: 0x200000, I_VERSION: 0x800000, STRICTATIME: 0x1000000, LAZYTIME: 0x2000000,
} as const;

/** option -> [clear (true) or set (false), flag] */
const FLAGS: Record<string, [boolean, number]> = {
  async: [true, MS.SYNCHRONOUS], atime: [true, MS.NOATIME], bind: [false, MS.BIND], defaults: [false, 0],
  dev: [true, MS.NODEV], diratime: [true, MS.NODIRATIME], dirsync: [false, MS.DIRSYNC], exec: [true, MS.NOEXEC],
  iversion: [false, MS.I_VERSION], lazytime: [false, MS.LAZYTIME], loud: [true, MS.SILENT], mand: [false, MS.MANDLOCK],
  noatime: [false, MS.NOATIME], nodev: [false, MS.NODEV], nodiratime: [false, MS.NODIRATIME], noexec: [false, MS.NOEXEC],
  noiversion: [true, MS.I_VERSION], nolazytime: [true, MS.LAZYTIME], nomand: [true, MS.MANDLOCK],
  norelatime: [true, MS.RELATIME], nostrictatime: [true, MS.STRICTATIME], nosuid: [false, MS.NOSUID],
  nosymfollow: [false, MS.NOSYMFOLLOW], rbind: [false, MS.BIND | MS.REC], relatime: [false, MS.RELATIME],
  remount: [false, MS.REMOUNT], ro: [false, MS.RDONLY], rw: [true, MS.RDONLY], silent: [false, MS.SILENT],
  strictatime: [false, MS.STRICTATIME], suid: [true, MS.NOSUID], sync: [false, MS.SYNCHRONOUS],
  symfollow: [true, MS.NOSYMFOLLOW],
};

export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

/** mount_setattr(2) attributes (linux/mount.h). The atime ones are an enum under MOUNT_ATTR__ATIME. */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, _ATIME: 0x70, RELATIME: 0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

/** The recursive options (runc's list): option -> [clear (true) or set (false), attribute], on every mount of the tree. */
const RECURSIVE: Record<string, [boolean, number]> = {
  rro: [false, MOUNT_ATTR.RDONLY], rrw: [true, MOUNT_ATTR.RDONLY], rnosuid: [false, MOUNT_ATTR.NOSUID], rsuid: [true, MOUNT_ATTR.NOSUID],
  rnodev: [false, MOUNT_ATTR.NODEV], rdev: [true, MOUNT_ATTR.NODEV], rnoexec: [false, MOUNT_ATTR.NOEXEC], rexec: [true, MOUNT_ATTR.NOEXEC],
  rnodiratime: [false, MOUNT_ATTR.NODIRATIME], rdiratime: [true, MOUNT_ATTR.NODIRATIME],
  rnosymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW], rsymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
};

/**
 * The recursive atime options choose one mode for the whole tree (the kernel takes a mode, not bits).
 * Their negations read as mount(8) defines them: `atime` and `nostrictatime` give the kernel's default
 * (relatime), `norelatime` updates atime on every access (strictatime).
 */
const RECURSIVE_ATIME: Record<string, number> = {
  rrelatime: MOUNT_ATTR.RELATIME, rnoatime: MOUNT_ATTR.NOATIME, rstrictatime: MOUNT_ATTR.STRICTATIME,
  ratime: MOUNT_ATTR.RELATIME, rnostrictatime: MOUNT_ATTR.RELATIME, rnorelatime: MOUNT_ATTR.STRICTATIME,
};

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  /** Options the kernel reads as filesystem data (mode=755, size=…), comma-joined. */
  data: string;
  /** mount_setattr(AT_RECURSIVE) attributes to set and to clear on the whole mounted tree (both 0: none asked). */
  attrSet: number;
  attrClear: number;
  /** An idmapped bind: `idmap` maps its top mount, `ridmap` every mount of the tree. */
  idmap?: 'idmap' | 'ridmap';
}

const IDMAP_OPTIONS = ['idmap', 'ridmap'] as const;

export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  let attrSet = 0;
  let attrClear = 0;
  let idmap: ParsedMountOptions['idmap'];
  const data: string[] = [];
  for (const opt of options) {
    const flag = FLAGS[opt];
    const recursive = RECURSIVE[opt];
    if (flag) flags = flag[0] ? flags & ~flag[1] : flags | flag[1];
    else if (recursive) {
      // The last option naming an attribute wins, as with the mount(2) flags.
      const [clear, attr] = recursive;
      attrSet = clear ? attrSet & ~attr : attrSet | attr;
      attrClear = clear ? attrClear | attr : attrClear & ~attr;
    } else if (opt in RECURSIVE_ATIME) {
      // A new atime mode needs the whole MOUNT_ATTR__ATIME field cleared (mount_setattr(2)).
      attrSet = (attrSet & ~MOUNT_ATTR._ATIME) | RECURSIVE_ATIME[opt];
      attrClear |= MOUNT_ATTR._ATIME;
    } else if ((IDMAP_OPTIONS as readonly string[]).includes(opt)) idmap = opt as ParsedMountOptions['idmap'];
    else if (opt in PROPAGATION) propagation |= PROPAGATION[opt];
    else data.push(opt);
  }
  return { flags, propagation, data: data.join(','), attrSet, attrClear, ...(idmap && { idmap }) };
}

export const KNOWN_MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(PROPAGATION), ...Object.keys(RECURSIVE), ...Object.keys(RECURSIVE_ATIME), ...IDMAP_OPTIONS].sort();
