/* The `delete` action's fast path. containerd runs `delete` after every task deletion and waits for it; normally the
 * daemon has already deleted the container, and node would only find nothing to do: no state dir under the runtime
 * root packages/shim/src/delete.ts computes (paths.ts runtimeRoot without options), nothing mounted at or below
 * <bundle>/rootfs. Then this prints the DeleteResponse delete.ts would print, byte for byte. A bundle holding an
 * options.json (bundle-options.ts: its Create named another runtime root) is left to node, which reads it. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ID_MAX 255 /* packages/runtime/src/container/state-dir.ts MAX_ID_LENGTH */
#define MOUNTINFO_MAX (64 << 20)
/* delete.ts KILLED_STATUS: 128 + SIGKILL. */
#define KILLED_STATUS 137

static int id_char(char c, int first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return !first && (c == '_' || c == '+' || c == '.' || c == '-');
}

/* state-dir.ts validateId: /^[a-zA-Z0-9][a-zA-Z0-9_+.-]*$/, no "..", at most ID_MAX long. */
static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > ID_MAX || strstr(id, "..")) return 0;
  for (size_t i = 0; i < n; i++)
    if (!id_char(id[i], i == 0)) return 0;
  return 1;
}

/* Non-ASCII is where node's strings (argv and paths decoded as UTF-8, bad bytes as U+FFFD) and these bytes could
 * part ways. */
static int ascii(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80) return 0;
  return 1;
}

/* path.dirname of a clean absolute path, in place. */
static void dirname_in_place(char *p) {
  char *slash = strrchr(p, '/');
  if (slash == p) p[1] = 0;
  else *slash = 0;
}

/* paths.ts runtimeRoot(bundle, namespace) + "/" + id: <bundle>/../../../tsrunc/<namespace>/<id>, of a clean bundle. */
static int state_dir(const char *bundle, const char *namespace, const char *id, char *out, size_t cap) {
  /* path.join would normalise a namespace with a slash or dots; containerd's never has them. */
  if (!*namespace || strchr(namespace, '/') || strcmp(namespace, ".") == 0 || strcmp(namespace, "..") == 0) return FAST_UNSURE;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", bundle);
  for (int i = 0; i < 3; i++) dirname_in_place(dir);
  int n = snprintf(out, cap, "%s/tsrunc/%s/%s", strcmp(dir, "/") == 0 ? "" : dir, namespace, id);
  return n > 0 && (size_t)n < cap ? FAST_OK : FAST_UNSURE;
}

/* Whether anything is mounted at `dir` or below it, as rootfs.ts mountsAtOrBelow reads /proc/self/mountinfo. */
static int mounted_at_or_below(const char *dir, int *found) {
  char *info;
  size_t len;
  if (read_file("/proc/self/mountinfo", MOUNTINFO_MAX, &info, &len) != FAST_OK) return FAST_UNSURE;
  size_t dir_len = strlen(dir);
  *found = 0;
  for (char *line = info, *end = info + len; line < end && !*found;) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *stop = nl ? nl : end;
    /* The fifth space-separated field; space, tab, newline and backslash in it are \ooo escapes. */
    char *field = line;
    for (int skip = 0; skip < 4 && field; skip++) {
      field = memchr(field, ' ', (size_t)(stop - field));
      if (field) field++;
    }
    if (field) {
      char *field_end = memchr(field, ' ', (size_t)(stop - field));
      if (!field_end) field_end = stop;
      size_t k = 0;
      int matches = 1;
      for (char *p = field; p < field_end && matches; k++) {
        char c = *p++;
        if (c == '\\' && field_end - p >= 3 && p[0] >= '0' && p[0] <= '7' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
          c = (char)((p[0] - '0') << 6 | (p[1] - '0') << 3 | (p[2] - '0'));
          p += 3;
        }
        if (k < dir_len) matches = c == dir[k];
        else if (k == dir_len) matches = c == '/';
        else break;
      }
      *found = matches && k >= dir_len;
    }
    line = stop + 1;
  }
  free(info);
  return FAST_OK;
}

static size_t put_varint(unsigned char *out, uint64_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) out[n++] = (unsigned char)(v | 0x80);
  out[n++] = (unsigned char)v;
  return n;
}

/* DeleteResponse{pid: 0, exit_status: 137, exited_at: now} as protobufjs encodes it (zero fields left out), the
 * time in whole milliseconds as delete.ts takes it from Date.now(). */
static size_t encode_response(unsigned char *out) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
  uint64_t seconds = ms / 1000, nanos = ms % 1000 * 1000000;
  unsigned char stamp[32];
  size_t stamp_len = 0;
  stamp[stamp_len++] = 0x08; /* seconds, varint */
  stamp_len += put_varint(stamp + stamp_len, seconds);
  if (nanos) {
    stamp[stamp_len++] = 0x10; /* nanos, varint */
    stamp_len += put_varint(stamp + stamp_len, nanos);
  }
  size_t n = 0;
  out[n++] = 0x10; /* exit_status, varint */
  n += put_varint(out + n, KILLED_STATUS);
  out[n++] = 0x1a; /* exited_at, length-delimited */
  n += put_varint(out + n, stamp_len);
  memcpy(out + n, stamp, stamp_len);
  return n + stamp_len;
}

int delete_fast(const char *namespace, const char *id, const char *bundle, unsigned char *response, size_t *response_len) {
  if (!valid_id(id)) return FAST_UNSURE;
  /* Node resolves a relative bundle against its cwd; containerd always gives an absolute one. */
  char clean[PATH_MAX], state[PATH_MAX];
  if (bundle[0] != '/' || strlen(bundle) + 2 > sizeof clean || !ascii(bundle) || !ascii(namespace)) return FAST_UNSURE;
  clean_path(bundle, clean);
  struct stat st;
  char saved_options[PATH_MAX];
  if (snprintf(saved_options, sizeof saved_options, "%s/options.json", strcmp(clean, "/") == 0 ? "" : clean) >= (int)sizeof saved_options) return FAST_UNSURE;
  if (lstat(saved_options, &st) == 0 || errno != ENOENT) return FAST_UNSURE;
  if (state_dir(clean, namespace, id, state, sizeof state) != FAST_OK) return FAST_UNSURE;
  if (stat(state, &st) == 0 || errno != ENOENT) return FAST_UNSURE;

  /* delete.ts unmountRootfs(path.join(bundle, 'rootfs')): realpath, then mountinfo. */
  char rootfs[PATH_MAX], real[PATH_MAX];
  if (snprintf(rootfs, sizeof rootfs, "%s/rootfs", strcmp(clean, "/") == 0 ? "" : clean) >= (int)sizeof rootfs) return FAST_UNSURE;
  if (realpath(rootfs, real)) {
    int found;
    if (!ascii(real) || strcmp(real, "/") == 0 || mounted_at_or_below(real, &found) != FAST_OK || found) return FAST_UNSURE;
  } else if (errno != ENOENT)
    return FAST_UNSURE;

  *response_len = encode_response(response);
  return FAST_OK;
}
