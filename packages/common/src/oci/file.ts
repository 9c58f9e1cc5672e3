// Reading a JSON document the caller names (config.json, exec --process, update -r): a regular file of
// bounded size, opened without blocking, so /dev/zero or a FIFO in its place is an error, not a hang
// or an endless read.
import * as fs from 'node:fs';
import { TsruncError } from '../errors';

/** Far above any real config (10,000 mounts are about 1 MiB), and above the plan's 64 MiB limit, which names the parts at fault. */
export const JSON_FILE_MAX = 256 << 20;

/** The file's text; an ErrnoException (code kept) when it cannot be opened, a TsruncError when it is not a regular file or too large. */
export function readJsonFile(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new TsruncError(`${file}: not a regular file`);
    if (st.size > JSON_FILE_MAX) throw new TsruncError(`${file}: ${st.size} bytes, over the limit of ${JSON_FILE_MAX} bytes`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}
