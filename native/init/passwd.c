/*
 * HOME from the container's /etc/passwd, read here, inside the container (after the root switch or
 * the mount-namespace join, before the uid change), as runc's init reads it: the runtime never reads
 * a container's file on the host, where the container could swap it for a link to a host file between
 * a check and the read. The path resolves in the container's root, without magic links (a leaked fd
 * under /proc/self/fd leads out of it); only a regular file is read (a FIFO would block us), or the
 * null device a masked /etc/passwd is bound to (empty, as runc reads it), and the reading is bounded: a line of at most 64 KiB, as runc's bufio.Scanner, and at most 16 MiB in all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

#define PASSWD_LINE_MAX (64u << 10)
#define PASSWD_SCAN_MAX (16u << 20)
/* openat2 answers EAGAIN when a rename elsewhere races a ".." lookup: retry, but not for ever. */
#define OPEN_TRIES 64

char *home_env;

/* The container's /etc/passwd, or -1 (errno set) when it cannot be opened. */
static int open_passwd(void) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) fail(errno, "open /");
  struct open_how how = {
    .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd, tries = 0;
  do fd = (int)syscall(SYS_openat2, root, "etc/passwd", &how, sizeof how);
  while (fd < 0 && errno == EAGAIN && ++tries < OPEN_TRIES);
  int err = errno;
  close(root);
  errno = err;
  return fd;
}

/* The home field of a passwd line ("name:pw:uid:gid:gecos:home:shell") whose uid is `uid`, or NULL. */
static const char *home_of(char *line, uid_t uid) {
  char *field[7] = { line };
  int n = 1;
  for (char *c = line; *c && n < 7; c++)
    if (*c == ':') {
      *c = 0;
      field[n++] = c + 1;
    }
  if (n < 6 || field[2][0] < '0' || field[2][0] > '9') return NULL;
  char *end;
  errno = 0;
  unsigned long found = strtoul(field[2], &end, 10);
  if (*end || errno || found != uid) return NULL;
  return field[5][0] ? field[5] : "/";
}

/* Checks one line (without its newline) for `uid`; trailing blanks are not part of the home. */
static const char *check_line(char *line, size_t len, uid_t uid) {
  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
  line[len] = 0;
  return home_of(line, uid);
}

/* The home of the first entry for `uid` (in a buffer the next call reuses), or "/" when there is
 * none (as runc). */
static const char *lookup_home(int fd, uid_t uid) {
  static char buf[PASSWD_LINE_MAX + 1];
  size_t have = 0, scanned = 0, line_no = 1;
  for (;;) {
    if (have == PASSWD_LINE_MAX) fail(-E2BIG, "/etc/passwd: line %zu is longer than 64 KiB", line_no);
    if (scanned >= PASSWD_SCAN_MAX) fail(-E2BIG, "no entry for uid %u in the first 16 MiB of /etc/passwd", uid);
    ssize_t n = read(fd, buf + have, PASSWD_LINE_MAX - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno, "read /etc/passwd");
    if (n == 0) break;
    scanned += (size_t)n;
    size_t end = have + (size_t)n, start = 0;
    for (char *nl; (nl = memchr(buf + start, '\n', end - start)); start = (size_t)(nl - buf) + 1, line_no++) {
      const char *home = check_line(buf + start, (size_t)(nl - buf) - start, uid);
      if (home) return home;
    }
    have = end - start;
    memmove(buf, buf + start, have);
  }
  /* A last line without a newline. */
  const char *home = check_line(buf, have, uid);
  return home ? home : "/";
}

/* OP_SET_HOME: the config has no HOME; "HOME=<dir>" for OP_PREPARE_EXEC to add to the env. */
void op_set_home(const struct op *op) {
  uid_t uid = (uid_t)arg_int(op, 0);
  const char *home = "/";
  int fd = open_passwd();
  /* Missing or unreadable: HOME=/, as runc. */
  if (fd >= 0) {
    struct stat st;
    if (fstat(fd, &st) != 0) fail(errno, "stat /etc/passwd");
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) home = "/"; /* linux.maskedPaths */
    else if (!S_ISREG(st.st_mode)) fail(-EINVAL, "/etc/passwd is not a regular file");
    else home = lookup_home(fd, uid);
    close(fd);
  }
  if (asprintf(&home_env, "HOME=%s", home) < 0) fail(ENOMEM, "out of memory");
}
