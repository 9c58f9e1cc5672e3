/*
 * Mounts, devices, masks and the root switch. Every path inside the container is resolved against
 * a rootfs dirfd with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, mounts go onto /proc/self/fd/N of the
 * resolved fd, and files are created with O_EXCL|O_NOFOLLOW (SECURITY.md #3, #4).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "init.h"

static int rootfd = -1;
static char rootfs_path[PATH_MAX];

#define FDPATH(buf, fd) snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd)

static int open_in_root(const char *path, int flags) {
  struct open_how how = {
    .flags = (uint64_t)(O_PATH | O_CLOEXEC | flags),
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  int fd;
  do fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

/* Opens the directory `path` in the root, creating missing components (0755). */
static int mkdir_in_root(const char *path) {
  char prefix[PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof prefix) fail(ENAMETOOLONG, "%s", path);
  /* Usually there already (a node's /dev): one lookup instead of one per component. */
  int fd = open_in_root(path, O_DIRECTORY);
  if (fd >= 0) return fd;
  fd = open_in_root("/", O_DIRECTORY);
  if (fd < 0) fail(errno, "open rootfs");
  size_t i = 0;
  while (i < n) {
    while (i < n && path[i] == '/') i++;
    size_t start = i;
    while (i < n && path[i] != '/') i++;
    if (i == start) break;
    memcpy(prefix, path, i);
    prefix[i] = 0;
    int next = open_in_root(prefix, O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      char name[NAME_MAX + 1];
      if (i - start > NAME_MAX) fail(ENAMETOOLONG, "%s", path);
      memcpy(name, path + start, i - start);
      name[i - start] = 0;
      if (mkdirat(fd, name, 0755) != 0 && errno != EEXIST) fail(errno, "mkdir %s", prefix);
      next = open_in_root(prefix, O_DIRECTORY);
    }
    if (next < 0) fail(errno, "open %s", prefix);
    close(fd);
    fd = next;
  }
  return fd;
}

/* Opens (creating) the parent directory of `path`; *name gets the last component. */
static int open_parent_in_root(const char *path, char name[NAME_MAX + 1]) {
  char parent[PATH_MAX];
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  size_t slash = n;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  if (n - slash == 0 || n - slash > NAME_MAX || slash >= sizeof parent) fail(EINVAL, "bad path %s", path);
  memcpy(name, path + slash, n - slash);
  name[n - slash] = 0;
  if (!strcmp(name, ".") || !strcmp(name, "..")) fail(EINVAL, "bad path %s", path);
  memcpy(parent, path, slash);
  parent[slash] = 0;
  return mkdir_in_root(slash ? parent : "/");
}

/*
 * `path` in the root with every symlink followed, a dangling one too (a symlink to a path not made
 * yet): runc makes a mount target where such a symlink points. ".." and absolute link targets stop at
 * the root, as RESOLVE_IN_ROOT does. Only a name for what to create: whatever is then made and
 * mounted is opened through open_in_root, so a symlink swapped in meanwhile still resolves inside.
 */
static void resolve_in_root(const char *path, char out[PATH_MAX]) {
  char todo[PATH_MAX];
  if (snprintf(todo, sizeof todo, "%s", path) >= (int)sizeof todo) fail(ENAMETOOLONG, "%s", path);
  size_t outlen = 0;
  int links = 0;
  out[0] = 0;
  const char *rest = todo;
  while (*rest) {
    while (*rest == '/') rest++;
    if (!*rest) break;
    const char *end = strchrnul(rest, '/');
    size_t n = (size_t)(end - rest);
    char name[NAME_MAX + 1];
    if (n > NAME_MAX) fail(ENAMETOOLONG, "%s", path);
    memcpy(name, rest, n);
    name[n] = 0;
    rest = end;
    if (!strcmp(name, ".")) continue;
    if (!strcmp(name, "..")) {
      char *slash = strrchr(out, '/');
      if (slash) outlen = (size_t)(slash - out), *slash = 0;
      continue;
    }
    char target[PATH_MAX];
    ssize_t len = -1;
    int dir = open_in_root(outlen ? out : "/", O_DIRECTORY);
    if (dir >= 0) {
      len = readlinkat(dir, name, target, sizeof target);
      close(dir);
    }
    if (len < 0) { /* not a symlink, or missing: the name stays */
      if (outlen + 1 + n >= PATH_MAX) fail(ENAMETOOLONG, "%s", path);
      out[outlen++] = '/';
      memcpy(out + outlen, name, n + 1);
      outlen += n;
      continue;
    }
    if ((size_t)len >= sizeof target) fail(ENAMETOOLONG, "symlink %s/%s", out, name);
    if (++links > 40) fail(ELOOP, "%s", path);
    target[len] = 0;
    /* Walk on through the link's target, then what followed the link. */
    char next[PATH_MAX];
    if (snprintf(next, sizeof next, "%s%s", target, rest) >= (int)sizeof next) fail(ENAMETOOLONG, "%s", path);
    memcpy(todo, next, strlen(next) + 1);
    rest = todo;
    if (target[0] == '/') outlen = 0, out[0] = 0;
  }
  if (!outlen) strcpy(out, "/");
}

/* A single component below `parent` that nothing can turn into a way out: no symlink, no "..". */
static int open_beneath(int parent, const char *name) {
  struct open_how how = {
    .flags = O_PATH | O_CLOEXEC | O_NOFOLLOW,
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  int fd;
  do fd = (int)syscall(SYS_openat2, parent, name, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

/*
 * make_target's common case: the parent exists and the last component is missing and no symlink. It is then made
 * beside the opened parent (5 syscalls, where the general path below resolves each component from the root, twice).
 * -1 with errno ENOENT when it does not apply.
 */
static int make_target_in_parent(const char *path, int64_t kind) {
  char name[NAME_MAX + 1];
  const char *slash = strrchr(path, '/');
  if (!slash || !slash[1] || strlen(slash + 1) > NAME_MAX || (size_t)(slash - path) >= PATH_MAX) return errno = ENOENT, -1;
  strcpy(name, slash + 1);
  if (!strcmp(name, ".") || !strcmp(name, "..")) return errno = ENOENT, -1;
  char parent_path[PATH_MAX];
  memcpy(parent_path, path, (size_t)(slash - path));
  parent_path[slash - path] = 0;
  int parent = open_in_root(slash == path ? "/" : parent_path, O_DIRECTORY);
  if (parent < 0) return errno = ENOENT, -1;
  char link[1];
  if (readlinkat(parent, name, link, sizeof link) >= 0 || errno != ENOENT) {
    close(parent);
    return errno = ENOENT, -1; /* a dangling symlink (the general path follows it), or there after all */
  }
  if (kind == 0) {
    if (mkdirat(parent, name, 0755) != 0 && errno != EEXIST) fail(errno, "mkdir %s", path);
  } else {
    int f = openat(parent, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
    if (f < 0 && errno != EEXIST) fail(errno, "create %s", path);
    if (f >= 0) close(f);
  }
  int fd = open_beneath(parent, name);
  if (fd < 0) fail(errno, "open %s", path);
  close(parent);
  return fd;
}

/* The mount target: an existing path, or a new directory (kind 0) or empty file (kind 1) where the
 * path, or the dangling symlink it names, leads in the root. */
static int make_target(const char *path, int64_t kind) {
  int fd = open_in_root(path, 0);
  if (fd >= 0) return fd;
  if (errno != ENOENT) fail(errno, "open %s", path);
  fd = make_target_in_parent(path, kind);
  if (fd >= 0) return fd;
  char resolved[PATH_MAX];
  resolve_in_root(path, resolved);
  if (kind == 0) return mkdir_in_root(resolved);
  char name[NAME_MAX + 1];
  int pfd = open_parent_in_root(resolved, name);
  int f = openat(pfd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
  if (f < 0 && errno != EEXIST) fail(errno, "create %s", path);
  if (f >= 0) close(f);
  close(pfd);
  fd = open_in_root(path, 0);
  if (fd < 0) fail(errno, "open %s", path);
  return fd;
}

void check_procfs(int fd, const char *what) {
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) fail(errno, "statfs %s", what);
  if (sfs.f_type != PROC_SUPER_MAGIC) fail(-EXDEV, "%s is not on procfs", what);
}

/* The mount point of the mount that holds `path`: its highest ancestor (or itself) with the same mount id. */
static void containing_mount(const char *path, char out[PATH_MAX]) {
  struct statx st;
  if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) != 0) fail(errno, "statx %s", path);
  uint64_t id = st.stx_mnt_id;
  snprintf(out, PATH_MAX, "%s", path);
  while (strcmp(out, "/") != 0) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    if (slash == parent) parent[1] = 0;
    else *slash = 0;
    if (statx(AT_FDCWD, parent, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) != 0) fail(errno, "statx %s", parent);
    if (st.stx_mnt_id != id) return;
    memcpy(out, parent, strlen(parent) + 1);
  }
}

/* linux.rootfsPropagation, applied to the new root once pivot_root has happened. */
static unsigned long root_propagation;

void op_rootfs(const struct op *op) {
  const char *path = arg_str(op, 0);
  root_propagation = (unsigned long)arg_int(op, 1);
  if (strlen(path) >= sizeof rootfs_path) fail(ENAMETOOLONG, "%s", path);
  strcpy(rootfs_path, path);
  if (mount("", "/", NULL, root_propagation ? root_propagation : MS_SLAVE | MS_REC, NULL) != 0)
    fail(errno, "set propagation of /");
  /* pivot_root refuses a shared new root or parent: with a shared propagation asked for, the mount
   * holding the rootfs is made private first, so its bind (below) is private too (as runc does). */
  if (root_propagation & MS_SHARED) {
    char holder[PATH_MAX];
    containing_mount(path, holder);
    if (mount("", holder, NULL, MS_PRIVATE, NULL) != 0) fail(errno, "make %s private", holder);
  }
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) fail(errno, "bind mount rootfs %s", path);
  rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail(errno, "open rootfs %s", path);
}

/* Flags of an existing mount that a bind remount must repeat (they may be locked). */
static unsigned long kept_flags(int fd) {
  struct statvfs sv;
  if (fstatvfs(fd, &sv) != 0) fail(errno, "statvfs");
  return sv.f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
}

static void remount(const char *target, unsigned long flags) {
  int fd = open_in_root(target, 0);
  if (fd < 0) fail(errno, "reopen %s", target);
  char p[64];
  FDPATH(p, fd);
  if (mount(NULL, p, NULL, flags, NULL) != 0) fail(errno, "remount %s", target);
  close(fd);
}

/* A recursive bind of `src` on `target` with the ro/nosuid/nodev/noexec of `flags` set on every
 * mount of the tree: a remount would set them on its top mount only. */
static void bind_tree_restricted(const char *src, const char *target, const char *fdpath, unsigned long flags) {
  if (mount(src, fdpath, NULL, MS_BIND | MS_REC, NULL) != 0) fail(errno, "bind mount %s on %s", src, target);
  struct mount_attr attr = {
    .attr_set = (flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) | (flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
                (flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) | (flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0),
  };
  int fd = open_in_root(target, 0);
  if (fd < 0) fail(errno, "reopen %s", target);
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) fail(errno, "restrict every mount under %s", target);
  close(fd);
}

/* mount(2) ignores a bind's other flags: they take a remount of the new mount. */
static void remount_bind_flags(const char *target, unsigned long flags) {
  unsigned long rest = flags & ~(MS_BIND | MS_REC);
  if (rest) remount(target, MS_REMOUNT | MS_BIND | rest);
}

void op_mount(const struct op *op) {
  const char *src = arg_str(op, 0), *target = arg_str(op, 1), *fstype = arg_str(op, 2);
  unsigned long flags = (unsigned long)arg_int(op, 3);
  const char *data = arg_str(op, 4);
  int64_t kind = arg_int(op, 5);
  unsigned long propagation = (unsigned long)arg_int(op, 6);
  const char *refused_fallback = arg_str(op, 7);
  int fd = make_target(target, kind);
  char p[64];
  FDPATH(p, fd);
  if (flags & MS_BIND) {
    if (mount(src, p, NULL, MS_BIND | (flags & MS_REC), NULL) != 0) fail(errno, "bind mount %s on %s", src, target);
    remount_bind_flags(target, flags);
  } else if (mount(src, p, fstype, flags, *data ? data : NULL) != 0) {
    if (errno != EPERM || !*refused_fallback) fail(errno, "mount %s on %s (type %s)", src, target, fstype);
    bind_tree_restricted(refused_fallback, target, p, flags);
  }
  close(fd);
  if (propagation) remount(target, propagation);
}

/* Bind sources of a user-namespace container, opened by OP_OPEN_TREE as detached trees, by slot. */
static int *source_trees;
static size_t source_tree_count;

/*
 * Cloned while the init is still host root in the host's mount namespace: the container's root may
 * not reach the source (runc opens every bind source before the user namespace too). The tree turns
 * slave, as a bind made after the rootfs's rslave would be: nothing mounted in the container under it
 * reaches the host.
 */
/* Writes `map` to /proc/<pid>/<file>, through the host's procfs (checked, SECURITY.md #5). */
static void write_id_map(pid_t pid, const char *file, const char *map) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
  int fd = open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(errno, "open %s", p);
  check_procfs(fd, p);
  size_t len = strlen(map);
  if (write(fd, map, len) != (ssize_t)len) fail(errno, "write %s for an idmapped mount", p);
  close(fd);
}

/*
 * The pid the host's procfs (still at /proc) knows our child `pid` by: without a user namespace the
 * init is already in the container's pid namespace, where fork() answers with that namespace's pids.
 */
static pid_t procfs_pid(pid_t pid) {
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) fail(errno, "pidfd_open %d", (int)pid);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", pidfd);
  FILE *f = fopen(p, "re");
  if (!f) fail(errno, "open %s", p);
  check_procfs(fileno(f), p);
  char line[256];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) sscanf(line, "Pid:\t%d", &found);
  fclose(f);
  close(pidfd);
  if (found <= 0) fail(ESRCH, "no pid of our child %d in %s", (int)pid, p);
  return (pid_t)found;
}

/* A user namespace with these maps, for MOUNT_ATTR_IDMAP: made by a child that only unshares and waits. */
static int idmap_userns(const char *uid_map, const char *gid_map) {
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) fail(errno, "socketpair for an idmapped mount");
  pid_t pid = fork();
  if (pid < 0) fail(errno, "fork for an idmapped mount");
  if (pid == 0) {
    char c = 0;
    close(sp[0]);
    if (unshare(CLONE_NEWUSER) != 0 || write(sp[1], &c, 1) != 1) _exit(1);
    /* Until the parent has the namespace's fd: its end closes. */
    while (read(sp[1], &c, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(sp[1]);
  char c;
  if (read(sp[0], &c, 1) != 1) fail(ECHILD, "the idmapped mount's user namespace helper failed");
  pid_t seen = procfs_pid(pid);
  write_id_map(seen, "uid_map", uid_map);
  write_id_map(seen, "gid_map", gid_map);
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/ns/user", (int)seen);
  int ns = open(p, O_RDONLY | O_CLOEXEC);
  if (ns < 0) fail(errno, "open %s", p);
  struct statfs sfs;
  if (fstatfs(ns, &sfs) != 0 || sfs.f_type != NSFS_MAGIC) fail(-EXDEV, "%s is not a namespace file", p);
  close(sp[0]);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  return ns;
}

void op_open_tree(const struct op *op) {
  const char *src = arg_str(op, 0);
  int64_t recursive = arg_int(op, 1), slot = arg_int(op, 2), idmap = arg_int(op, 3);
  if (slot != (int64_t)source_tree_count) fail(EINVAL, "bind source %s: slot %lld out of order", src, (long long)slot);
  int fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (fd < 0) fail(errno, "open bind source %s", src);
  struct mount_attr attr = { .propagation = MS_SLAVE };
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) fail(errno, "make bind source %s slave", src);
  if (idmap) {
    int ns = idmap_userns(arg_str(op, 4), arg_str(op, 5));
    struct mount_attr id = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns };
    if (mount_setattr(fd, "", AT_EMPTY_PATH | (idmap == 2 ? AT_RECURSIVE : 0), &id, sizeof id) != 0) fail(errno, "idmap bind source %s", src);
    close(ns);
  }
  int *grown = realloc(source_trees, (source_tree_count + 1) * sizeof *source_trees);
  if (!grown) fail(ENOMEM, "out of memory");
  source_trees = grown;
  source_trees[source_tree_count++] = fd;
}

void op_mount_tree(const struct op *op) {
  int64_t slot = arg_int(op, 0);
  const char *src = arg_str(op, 1), *target = arg_str(op, 2);
  int64_t kind = arg_int(op, 3);
  unsigned long flags = (unsigned long)arg_int(op, 4), propagation = (unsigned long)arg_int(op, 5);
  if (slot < 0 || slot >= (int64_t)source_tree_count || source_trees[slot] < 0) fail(EINVAL, "bind source %s: no tree in slot %lld", src, (long long)slot);
  int fd = make_target(target, kind);
  if (move_mount(source_trees[slot], "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) fail(errno, "bind mount %s on %s", src, target);
  close(source_trees[slot]);
  source_trees[slot] = -1;
  close(fd);
  remount_bind_flags(target, flags);
  if (propagation) remount(target, propagation);
}

void op_remount(const struct op *op) {
  remount(arg_str(op, 0), (unsigned long)arg_int(op, 1));
}

/* The recursive options (rro, rnosuid, ...): mount(2) flags reach only the top mount of a tree. */
void op_mount_setattr(const struct op *op) {
  const char *target = arg_str(op, 0);
  struct mount_attr attr = { .attr_set = (uint64_t)arg_int(op, 1), .attr_clr = (uint64_t)arg_int(op, 2) };
  int fd = open_in_root(target, 0);
  if (fd < 0) fail(errno, "reopen %s", target);
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) fail(errno, "set recursive mount attributes on %s", target);
  close(fd);
}

void op_mknod(const struct op *op) {
  const char *path = arg_str(op, 0);
  mode_t mode = (mode_t)arg_int(op, 1);
  dev_t dev = (dev_t)arg_int(op, 2);
  uid_t uid = (uid_t)arg_int(op, 3);
  gid_t gid = (gid_t)arg_int(op, 4);
  int64_t keep_existing = arg_int(op, 5);
  char name[NAME_MAX + 1];
  int pfd = open_parent_in_root(path, name);
  /* A linux.devices entry: a node already there that is the requested device stays; anything else there is
   * the spec's error, not replaced. Checked on the opened parent, so nothing can swap the path in between. */
  struct stat st;
  if (keep_existing && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if ((st.st_mode & S_IFMT) == (mode & S_IFMT) && st.st_rdev == dev) {
      close(pfd);
      return;
    }
    fail(EEXIST, "%s already exists and is not the requested device", path);
  }
  if (unlinkat(pfd, name, 0) != 0 && errno != ENOENT) fail(errno, "remove %s", path);
  if (mknodat(pfd, name, mode, dev) != 0) fail(errno, "mknod %s", path);
  if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) fail(errno, "chown %s", path);
  close(pfd);
}

void op_bind_device(const struct op *op) {
  const char *host = arg_str(op, 0), *path = arg_str(op, 1);
  int fd = make_target(path, 1);
  char p[64];
  FDPATH(p, fd);
  if (mount(host, p, NULL, MS_BIND, NULL) != 0) fail(errno, "bind mount device %s on %s", host, path);
  close(fd);
}

void op_symlink(const struct op *op) {
  const char *target = arg_str(op, 0), *link = arg_str(op, 1);
  char name[NAME_MAX + 1];
  int pfd = open_parent_in_root(link, name);
  if (unlinkat(pfd, name, 0) != 0 && errno != ENOENT) fail(errno, "remove %s", link);
  if (symlinkat(target, pfd, name) != 0) fail(errno, "symlink %s -> %s", link, target);
  close(pfd);
}

void op_mask_path(const struct op *op) {
  const char *path = arg_str(op, 0);
  int fd = open_in_root(path, 0);
  if (fd < 0 && errno == ENOENT) return;
  if (fd < 0) fail(errno, "open %s", path);
  struct stat st;
  if (fstat(fd, &st) != 0) fail(errno, "stat %s", path);
  char p[64];
  FDPATH(p, fd);
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) != 0) fail(errno, "mask %s", path);
  } else {
    /* The container could have replaced /dev/null: bind it only if it is the null device. */
    int null = open_in_root("/dev/null", 0);
    struct stat ns;
    if (null < 0 || fstat(null, &ns) != 0) fail(errno, "open /dev/null to mask %s", path);
    if (!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3)) fail(-EPERM, "/dev/null is not the null device (1:3); refusing to mask %s with it", path);
    char np[64];
    FDPATH(np, null);
    if (mount(np, p, NULL, MS_BIND, NULL) != 0) fail(errno, "mask %s", path);
    close(null);
  }
  close(fd);
}

void op_readonly_path(const struct op *op) {
  const char *path = arg_str(op, 0);
  int fd = open_in_root(path, 0);
  if (fd < 0 && errno == ENOENT) return;
  if (fd < 0) fail(errno, "open %s", path);
  char p[64];
  FDPATH(p, fd);
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0) fail(errno, "bind %s", path);
  close(fd);
  fd = open_in_root(path, 0);
  if (fd < 0) fail(errno, "reopen %s", path);
  remount(path, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(fd));
  close(fd);
}

/* Undoes mountinfo's octal escapes (\040 for a space, ...) in place. */
static void unescape_mountinfo(char *s) {
  char *out = s;
  for (char *in = s; *in; out++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 4;
    } else {
      *out = *in++;
    }
  }
  *out = 0;
}

static int deeper_first(const void *a, const void *b) {
  size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
  return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * chroot leaves the host's mounts in our mount namespace, and the kernel lets a process there that
 * makes its own user namespace mount a fresh procfs or sysfs as long as one fully visible instance
 * exists anywhere in the namespace (mount_too_revealing): the host's /proc, /sys would be that one.
 * So every whole procfs and sysfs outside the rootfs is detached, or covered where a user
 * namespace locks it (as runc's msMoveRoot does). The host's procfs is still at /proc here.
 */
static void hide_host_procfs_sysfs(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail(errno, "open /proc/self/mountinfo");
  check_procfs(fileno(f), "/proc/self/mountinfo");
  /* mountinfo names the rootfs by its canonical path. */
  char rootfs_real[PATH_MAX];
  if (!realpath(rootfs_path, rootfs_real)) fail(errno, "resolve %s", rootfs_path);
  size_t rootfs_len = strlen(rootfs_real);
  char **points = NULL, *line = NULL;
  size_t count = 0, line_cap = 0;
  while (getline(&line, &line_cap, f) > 0) {
    line[strcspn(line, "\n")] = 0;
    /* id parent major:minor root mountpoint options [optional fields] - fstype source superoptions */
    char root[PATH_MAX], point[PATH_MAX], fstype[64];
    const char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 || sscanf(sep, " - %63s", fstype) != 1)
      fail(EINVAL, "unexpected line in /proc/self/mountinfo: %s", line);
    if (strcmp(root, "/") != 0 || (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0)) continue;
    unescape_mountinfo(point);
    if (!strncmp(point, rootfs_real, rootfs_len) && (point[rootfs_len] == '/' || point[rootfs_len] == 0)) continue;
    points = realloc(points, (count + 1) * sizeof *points);
    if (!points || !(points[count++] = strdup(point))) fail(ENOMEM, "out of memory");
  }
  free(line);
  fclose(f);
  /* Submounts first: detaching a parent would take their paths away. */
  qsort(points, count, sizeof *points, deeper_first);
  for (size_t i = 0; i < count; i++) {
    /* Slave first, so that the unmount never propagates to the host (a shared rootfsPropagation). */
    if (mount("", points[i], NULL, MS_SLAVE | MS_REC, NULL) != 0) fail(errno, "make %s slave", points[i]);
    if (umount2(points[i], MNT_DETACH) != 0) {
      if (errno != EINVAL && errno != EPERM) fail(errno, "unmount %s", points[i]);
      if (mount("tmpfs", points[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail(errno, "cover %s", points[i]);
    }
    free(points[i]);
  }
  free(points);
}

void op_chdir_rootfs(const struct op *op) {
  (void)op;
  if (fchdir(rootfd) != 0) fail(errno, "chdir to the rootfs %s", rootfs_path);
}

void op_pivot_root(const struct op *op) {
  int64_t no_pivot = arg_int(op, 0);
  if (no_pivot) {
    hide_host_procfs_sysfs();
    if (chdir(rootfs_path) != 0) fail(errno, "chdir %s", rootfs_path);
    if (mount(rootfs_path, "/", NULL, MS_MOVE, NULL) != 0) fail(errno, "move rootfs to /");
    if (chroot(".") != 0) fail(errno, "chroot");
  } else {
    int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    int newroot = open(rootfs_path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0 || newroot < 0) fail(errno, "open roots");
    /* pivot_root(".", ".") stacks the old root on the new one; unmount it from under us. */
    if (fchdir(newroot) != 0) fail(errno, "chdir rootfs");
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(errno, "pivot_root");
    if (fchdir(oldroot) != 0) fail(errno, "chdir old root");
    if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) != 0) fail(errno, "make old root slave");
    if (umount2(".", MNT_DETACH) != 0) fail(errno, "unmount old root");
    close(oldroot);
    close(newroot);
  }
  if (chdir("/") != 0) fail(errno, "chdir /");
  close(rootfd);
  rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) fail(errno, "open /");
  if (root_propagation && mount("", "/", NULL, root_propagation, NULL) != 0) fail(errno, "set propagation of the container's /");
}

/* process.cwd is made when missing (runc's MkdirAll); any other trouble with it (not a directory,
 * a magic link) is left to the chdir of OP_PREPARE_EXEC, which names it in runc's words. */
void op_create_cwd(const struct op *op) {
  const char *cwd = arg_str(op, 0);
  int fd = open_in_root(cwd, O_DIRECTORY);
  if (fd < 0 && errno == ENOENT) fd = mkdir_in_root(cwd);
  if (fd >= 0) close(fd);
}

void op_readonly_root(const struct op *op) {
  (void)op;
  if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags(rootfd), NULL) != 0) fail(errno, "remount / read-only");
}
