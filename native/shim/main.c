/*
 * containerd-shim-tsrunc-v2: what containerd execs, once per container. containerd's `start` asks which daemon
 * serves the container; node takes tens of milliseconds just to start, so when the container's group already has a
 * daemon this program answers on its own: it decides the group as packages/shim/src/{options,group}.ts do (the
 * options Any on stdin, config.json's sandbox id for pod groups), hashes it into the socket path, connects, writes
 * <bundle>/address and prints the address, in a few milliseconds. In every other case (no daemon, another action,
 * anything it is unsure of) it execs node on dist/shim.cjs with the same argv and the same stdin bytes, and node
 * gives the real answer or the one-line error. `delete` is answered here too when node would find nothing to clean
 * up (delete.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../shared/launch.h"
#include "sha256.h"
#include "shim.h"

#define PROG "containerd-shim-tsrunc-v2"
#define SOCKET_DIR "/run/containerd/s"
#define OPTIONS_MAX (1 << 20)
#define CONFIG_MAX (16 << 20)
#define SANDBOX_ID_MAX 1024

struct flags {
  const char *namespace, *address, *id, *bundle, *action;
};

/* Go's flag syntax, as flags.ts parses it; unsure when node would report an error (node then reports it). */
static int parse_flags(int argc, char **argv, struct flags *f) {
  const char *ignored;
  int i = 1;
  while (i < argc) {
    const char *arg = argv[i];
    if (strlen(arg) < 2 || arg[0] != '-') break;
    i++;
    if (strcmp(arg, "--") == 0) break;
    const char *name = arg + (arg[1] == '-' ? 2 : 1);
    if (!*name || *name == '-' || *name == '=') return FAST_UNSURE;
    const char *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
#define IS(flag) (name_len == strlen(flag) && strncmp(name, flag, name_len) == 0)
    if (IS("debug")) {
      if (!eq) continue;
      static const char *const bools[] = {"1", "t", "T", "true", "TRUE", "True", "0", "f", "F", "false", "FALSE", "False"};
      int known = 0;
      for (size_t b = 0; b < sizeof bools / sizeof *bools; b++) known |= strcmp(eq + 1, bools[b]) == 0;
      if (!known) return FAST_UNSURE;
      continue;
    }
    const char **slot = IS("namespace") ? &f->namespace
                        : IS("address") ? &f->address
                        : IS("id")      ? &f->id
                        : IS("bundle")  ? &f->bundle
                        : IS("publish-binary") || IS("socket") ? &ignored
                                                                : NULL;
#undef IS
    if (!slot) return FAST_UNSURE;
    if (eq) *slot = eq + 1;
    else if (i < argc) *slot = argv[i++];
    else return FAST_UNSURE;
  }
  if (i != argc - 1) return FAST_UNSURE;
  f->action = argv[i];
  return FAST_OK;
}

int read_file(const char *path, size_t max, char **data, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return FAST_UNSURE;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (n == cap) {
      char *bigger = cap < max ? realloc(buf, cap * 2) : NULL;
      if (!bigger) break;
      buf = bigger;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break;
    if (r == 0) {
      close(fd);
      *data = buf;
      *len = n;
      return FAST_OK;
    }
    n += (size_t)r;
  }
  free(buf);
  close(fd);
  return FAST_UNSURE;
}

void clean_path(const char *in, char *out) {
  size_t n = strlen(in), r = 0, w = 0, dotdot = 0;
  int rooted = n > 0 && in[0] == '/';
  if (rooted) out[w++] = '/', r = 1, dotdot = 1;
  while (r < n) {
    if (in[r] == '/') r++;
    else if (in[r] == '.' && (r + 1 == n || in[r + 1] == '/')) r++;
    else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) {
        w--;
        while (w > dotdot && out[w] != '/') w--;
      } else if (!rooted) {
        if (w > 0) out[w++] = '/';
        out[w++] = '.', out[w++] = '.';
        dotdot = w;
      }
    } else {
      if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
      for (; r < n && in[r] != '/'; r++) out[w++] = in[r];
    }
  }
  if (w == 0) out[w++] = '.';
  out[w] = 0;
}

/* group.ts socketPath(): SOCKET_DIR/<hex sha256(filepath.Join(address, namespace, key))>. */
static int socket_path(const struct flags *f, const char *key, char *out, size_t cap) {
  size_t len = strlen(f->address) + strlen(f->namespace) + strlen(key) + 3;
  char *joined = malloc(len), *cleaned = malloc(len + 2);
  if (!joined || !cleaned) {
    free(joined);
    free(cleaned);
    return FAST_UNSURE;
  }
  /* None of the three is empty here (Join would skip an empty one). */
  snprintf(joined, len, "%s/%s/%s", f->address, f->namespace, key);
  clean_path(joined, cleaned);
  uint8_t digest[32];
  sha256(cleaned, strlen(cleaned), digest);
  free(joined);
  free(cleaned);
  int n = snprintf(out, cap, "%s/", SOCKET_DIR);
  for (int i = 0; i < 32; i++) n += snprintf(out + n, cap - (size_t)n, "%02x", digest[i]);
  return FAST_OK;
}

/* Appends protobuf field `field` (length-delimited) holding `len` bytes of `data`. */
static uint8_t *put_bytes(uint8_t *out, unsigned field, const void *data, size_t len) {
  *out++ = (uint8_t)(field << 3 | 2);
  for (size_t v = len; ; v >>= 7) {
    *out++ = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
    if (v <= 0x7f) break;
  }
  memcpy(out, data, len);
  return out + len;
}

#define PREPARE_SERVICE "tsrunc.shim.v1.Prepare" /* packages/shim/src/prepare.ts */
#define TTRPC_REQUEST 1

/*
 * Tells the daemon on `fd` of the create that containerd's Create will bring (prepare.ts): one ttrpc request, never
 * answered here, of a CreateTaskRequest with the id, the bundle (our working directory, as containerd runs `start`)
 * and the options as read from stdin. Best effort: a daemon that does not get it does the work at the Create.
 */
static void announce_create(int fd, const struct flags *f, const unsigned char *options, size_t options_len) {
  char cwd[4096];
  const char *bundle = *f->bundle ? f->bundle : getcwd(cwd, sizeof cwd);
  if (!bundle) return;
  size_t id_len = strlen(f->id), bundle_len = strlen(bundle);
  /* Each field: a tag byte, a varint length of at most 10 bytes, the bytes. */
  size_t create_cap = 3 * 11 + id_len + bundle_len + options_len;
  size_t cap = 10 + 3 * 11 + sizeof PREPARE_SERVICE + sizeof "Create" + create_cap;
  uint8_t *frame = malloc(cap + create_cap);
  if (!frame) return;
  uint8_t *create = frame + cap;
  uint8_t *c = put_bytes(create, 1, f->id, id_len);
  c = put_bytes(c, 2, bundle, bundle_len);
  if (options_len) c = put_bytes(c, 10, options, options_len);
  uint8_t *p = put_bytes(frame + 10, 1, PREPARE_SERVICE, strlen(PREPARE_SERVICE));
  p = put_bytes(p, 2, "Create", strlen("Create"));
  p = put_bytes(p, 3, create, (size_t)(c - create));
  uint32_t len = (uint32_t)(p - frame - 10), stream = 1;
  for (int i = 0; i < 4; i++) frame[i] = (uint8_t)(len >> (24 - 8 * i)), frame[4 + i] = (uint8_t)(stream >> (24 - 8 * i));
  frame[8] = TTRPC_REQUEST;
  frame[9] = 0;
  /* MSG_NOSIGNAL: a listener that has closed the connection already must not kill us with SIGPIPE. */
  (void)!send(fd, frame, (size_t)(p - frame), MSG_NOSIGNAL);
  free(frame);
}

/* Whether a daemon accepts on `path` now (a full backlog, EAGAIN, counts as no: node looks again, patiently); if so,
 * it is told of the create first. */
static int daemon_listens(const char *path, const struct flags *f, const unsigned char *options, size_t options_len) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return 0;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return 0;
  int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  if (ok) announce_create(fd, f, options, options_len);
  close(fd);
  return ok;
}

/* <bundle>/address, temp + rename, 0644, as start.ts writes it. */
static int write_address(const char *address) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "address.tmp-%d", (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FAST_UNSURE;
  size_t len = strlen(address);
  int ok = fchmod(fd, 0644) == 0 && write(fd, address, len) == (ssize_t)len;
  ok &= close(fd) == 0;
  if (ok && rename(tmp, "address") == 0) return FAST_OK;
  unlink(tmp);
  return FAST_UNSURE;
}

/* stdin to its end: *data is NULL for none (a closed fd 0, which node reads as none too). */
static void read_stdin(unsigned char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  size_t cap = 0;
  for (;;) {
    if (*len == cap) {
      if (cap == OPTIONS_MAX) tsrunc_die(PROG ": the runtime options on stdin exceed %d bytes\n", OPTIONS_MAX);
      cap = cap ? cap * 2 : 4096;
      *data = realloc(*data, cap);
      if (!*data) tsrunc_die(PROG ": out of memory\n");
    }
    ssize_t r = read(0, *data + *len, cap - *len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == EBADF && *len == 0) return;
    if (r < 0) tsrunc_die(PROG ": read the runtime options from stdin: %s\n", strerror(errno));
    if (r == 0) return;
    *len += (size_t)r;
  }
}

/* Puts the bytes read from stdin back on fd 0 (a memfd at offset 0) for node. */
static void resupply_stdin(const unsigned char *data, size_t len) {
  if (!data) return;
  int fd = memfd_create("containerd-shim-tsrunc-v2-options", 0);
  if (fd < 0) tsrunc_die(PROG ": memfd_create: %s\n", strerror(errno));
  for (size_t done = 0; done < len;) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) tsrunc_die(PROG ": write the runtime options to a memfd: %s\n", strerror(errno));
    done += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) != 0) tsrunc_die(PROG ": put the runtime options back on stdin: %s\n", strerror(errno));
  close(fd);
}

/* The fast path: FAST_OK once the address is written and printed; FAST_UNSURE leaves everything as it was. */
static int start_fast(const struct flags *f, const unsigned char *options, size_t options_len) {
  if (strlen(f->id) > SANDBOX_ID_MAX) return FAST_UNSURE;
  enum shim_group group;
  if (options_group(options, options_len, &group) != FAST_OK) return FAST_UNSURE;
  char key[SANDBOX_ID_MAX + 64];
  if (group == GROUP_NAMESPACE) snprintf(key, sizeof key, "tsrunc:namespace");
  else if (group == GROUP_CONTAINER) snprintf(key, sizeof key, "tsrunc:container:%s", f->id);
  else {
    char *config, sandbox[SANDBOX_ID_MAX];
    size_t config_len;
    int found = 0;
    if (read_file("config.json", CONFIG_MAX, &config, &config_len) != FAST_OK) return FAST_UNSURE;
    int rc = json_sandbox_id(config, config_len, sandbox, sizeof sandbox, &found);
    free(config);
    if (rc != FAST_OK) return FAST_UNSURE;
    snprintf(key, sizeof key, "tsrunc:pod:%s", found ? sandbox : f->id);
  }
  char path[sizeof SOCKET_DIR + 66], address[sizeof path + 8];
  if (socket_path(f, key, path, sizeof path) != FAST_OK || !daemon_listens(path, f, options, options_len)) return FAST_UNSURE;
  snprintf(address, sizeof address, "unix://%s", path);
  if (write_address(address) != FAST_OK) return FAST_UNSURE;
  size_t len = strlen(address);
  if (write(1, address, len) != (ssize_t)len) tsrunc_die(PROG ": write the address to stdout: %s\n", strerror(errno));
  return FAST_OK;
}

int main(int argc, char **argv) {
  tsrunc_raise_nofile(PROG);
  struct flags f = {"", "", "", "", NULL};
  int parsed = parse_flags(argc, argv, &f) == FAST_OK;
  if (parsed && strcmp(f.action, "start") == 0 && *f.namespace && *f.address && *f.id) {
    unsigned char *options;
    size_t options_len;
    read_stdin(&options, &options_len);
    if (start_fast(&f, options, options_len) == FAST_OK) return 0;
    resupply_stdin(options, options_len);
  }
  unsigned char response[DELETE_RESPONSE_MAX];
  size_t response_len;
  if (parsed && strcmp(f.action, "delete") == 0 && delete_fast(f.namespace, f.id, f.bundle, response, &response_len) == FAST_OK) {
    if (write(1, response, response_len) != (ssize_t)response_len) tsrunc_die(PROG ": write the DeleteResponse to stdout: %s\n", strerror(errno));
    return 0;
  }
  tsrunc_exec_node(PROG, "dist/shim.cjs", argc, argv);
}
