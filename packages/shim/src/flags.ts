// The shim's command line, as containerd writes it (Go flag syntax): `-namespace ns -address a -publish-binary b
// -id id [-bundle b] [-debug] start|delete`, and the daemon's own `-socket <path> serve`. Parsed as Go's `flag`
// package does (native/shim/main.c parses the same way), errors in its wording.
export type ShimAction = 'start' | 'delete' | 'serve';

export interface ShimFlags {
  action: ShimAction;
  namespace: string;
  /** containerd's gRPC socket (the `-address` flag). */
  address: string;
  /** containerd's executable (`-publish-binary`), for publishing events the 1.x way. */
  publishBinary: string;
  id: string;
  /** `delete` only; the other actions run in the bundle. */
  bundle: string;
  debug: boolean;
  /** `serve` only: the socket path the daemon listens on. */
  socket: string;
}

const ACTIONS: readonly ShimAction[] = ['start', 'delete', 'serve'];

const STRING_FLAGS = {
  namespace: 'namespace',
  address: 'address',
  'publish-binary': 'publishBinary',
  id: 'id',
  bundle: 'bundle',
  socket: 'socket',
} as const satisfies Record<string, keyof ShimFlags>;

/** Which flags each action cannot do without. */
const REQUIRED: Record<ShimAction, Array<keyof typeof STRING_FLAGS>> = {
  start: ['namespace', 'address', 'id'],
  delete: ['namespace', 'id'],
  serve: ['namespace', 'address', 'socket'],
};

/** strconv.ParseBool's spellings. */
const BOOLS: Record<string, boolean> = {
  1: true, t: true, T: true, true: true, TRUE: true, True: true,
  0: false, f: false, F: false, false: false, FALSE: false, False: false,
};

const ACTION_LIST = 'start, delete or serve';

export function parseShimFlags(argv: string[]): ShimFlags {
  const flags: ShimFlags = { action: 'start', namespace: '', address: '', publishBinary: '', id: '', bundle: '', debug: false, socket: '' };
  let i = 0;
  // Go's flag.Parse: flags until the first non-flag argument ("-" alone is one) or after "--".
  while (i < argv.length) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break;
    i++;
    if (arg === '--') break;
    const body = arg.slice(arg[1] === '-' ? 2 : 1);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new Error(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    if (name === 'debug') {
      const value = inline === undefined ? true : BOOLS[inline];
      if (value === undefined) throw new Error(`invalid boolean value "${inline}" for -debug: parse error`);
      flags.debug = value;
      continue;
    }
    if (!Object.hasOwn(STRING_FLAGS, name)) throw new Error(`flag provided but not defined: -${name}`);
    let value = inline;
    if (value === undefined) {
      if (i >= argv.length) throw new Error(`flag needs an argument: -${name}`);
      value = argv[i++];
    }
    flags[STRING_FLAGS[name as keyof typeof STRING_FLAGS]] = value;
  }
  const rest = argv.slice(i);
  if (rest.length === 0) throw new Error(`missing action: want ${ACTION_LIST}`);
  const action = rest[0] as ShimAction;
  if (!ACTIONS.includes(action)) throw new Error(`unknown action "${rest[0]}": want ${ACTION_LIST}`);
  if (rest.length > 1) throw new Error(`unexpected argument after ${action}: "${rest[1]}"`);
  flags.action = action;
  for (const name of REQUIRED[action]) {
    if (!flags[STRING_FLAGS[name]]) throw new Error(`${action} needs -${name}`);
  }
  return flags;
}
