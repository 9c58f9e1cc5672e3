// sealedMemfd (native/src/addon.cc), how a plan reaches tsrunc-init: whoever holds the fd (the init, or anything
// that got hold of it) cannot change a byte or the size by any route the kernel offers to an fd: write(2), a reopen
// through /proc for writing, truncate, fallocate, a shared writable mapping, or a read-only one made writable. The
// attempts run in a python child (ctypes for mmap/mprotect/fallocate), given the memfd as its fd 3.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { native } from '@tsrunc/common';
import { builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

const ATTACKS = String.raw`
import ctypes, errno, fcntl, json, mmap, os
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
FD, out = 3, {}
def attempt(name, fn):
    try:
        fn()
        out[name] = 'done'
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
def check(rc):
    if rc == -1 or rc == ctypes.c_void_p(-1).value:
        raise OSError(ctypes.get_errno(), 'failed')
    return rc
def reopened_write():
    w = os.open('/proc/self/fd/3', os.O_RDWR)
    try: os.pwrite(w, b'X', 0)
    finally: os.close(w)
def shared_mapping():
    check(libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, FD, 0))
def read_mapping_made_writable():
    addr = check(libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, FD, 0))
    check(libc.mprotect(addr, 4096, mmap.PROT_READ | mmap.PROT_WRITE))
    ctypes.memmove(addr, b'X', 1)
attempt('write', lambda: os.pwrite(FD, b'X', 0))
attempt('append', lambda: os.pwrite(FD, b'X', os.fstat(FD).st_size))
attempt('reopened for writing', reopened_write)
attempt('truncate shorter', lambda: os.ftruncate(FD, 1))
attempt('truncate longer', lambda: os.ftruncate(FD, 1 << 20))
attempt('fallocate past the end', lambda: check(libc.fallocate(FD, 0, 0, 1 << 20)))
attempt('punch a hole', lambda: check(libc.fallocate(FD, 0x02 | 0x01, 0, 4096)))  # PUNCH_HOLE|KEEP_SIZE
attempt('shared writable mapping', shared_mapping)
attempt('read-only shared mapping made writable', read_mapping_made_writable)
attempt('another seal', lambda: fcntl.fcntl(FD, 1033, 0x0001))  # F_ADD_SEALS, F_SEAL_SEAL
out['seals'] = fcntl.fcntl(FD, 1034)  # F_GET_SEALS
print(json.dumps(out))
`;

describeBuilt(`sealedMemfd${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('refuses every write and resize to whoever holds it, and keeps exactly what was written', () => {
    const data = Buffer.from('the plan '.repeat(2000));
    const fd = native().sealedMemfd('test-plan', data);
    try {
      const child = spawnSync('python3', ['-c', ATTACKS], { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8' });
      expect(child.stderr).toBe('');
      expect(JSON.parse(child.stdout)).toEqual({
        write: 'EPERM',
        append: 'EPERM',
        'reopened for writing': 'EPERM',
        'truncate shorter': 'EPERM',
        'truncate longer': 'EPERM',
        'fallocate past the end': 'EPERM',
        'punch a hole': 'EPERM',
        'shared writable mapping': 'EPERM',
        'read-only shared mapping made writable': 'EACCES',
        'another seal': 'EPERM',
        // SEAL | SHRINK | GROW | FUTURE_WRITE, and EXEC from MFD_NOEXEC_SEAL: data, never code.
        seals: 0x1 | 0x2 | 0x4 | 0x10 | 0x20,
      });
      expect(fs.readFileSync(`/proc/self/fd/${fd}`)).toEqual(data);
    } finally {
      fs.closeSync(fd);
    }
  });
});
