/*
 * process.terminal: a pty allocated inside the container's devpts, its master sent over the
 * console socket exactly as runc does (one sendmsg: data "/dev/ptmx", one SCM_RIGHTS fd), its
 * slave made the process's stdio and controlling terminal.
 *
 * SECURITY.md #4: the slave comes from TIOCGPTPEER (never by a path the container could swap),
 * is checked to be a devpts pty slave whose number is the master's, and the /dev/console bind
 * (create only) happens after the masks, through the new mount API on fds (no path strings).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "init.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#define UNIX98_PTY_SLAVE_MAJOR 136

/* Opens `path` below the current root, refusing every symlink on the way. */
static int open_strict(const char *path, uint64_t flags, uint64_t mode) {
  struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  int fd;
  do fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

static void check_devpts(int fd, const char *what) {
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) fail(errno, "statfs %s", what);
  if (sfs.f_type != DEVPTS_SUPER_MAGIC) fail(-EXDEV, "%s is not on devpts", what);
}

/* /dev/console of a new container: an empty file with the slave bind-mounted onto it. */
static void mount_console(int slave) {
  int dev = open_strict("/dev", O_PATH | O_DIRECTORY, 0);
  if (dev < 0) fail(errno, "open /dev");
  int target = openat(dev, "console", O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (target < 0 && errno == EEXIST) target = openat(dev, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (target < 0) fail(errno, "create /dev/console");
  struct stat st;
  if (fstat(target, &st) != 0) fail(errno, "stat /dev/console");
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) fail(-EINVAL, "/dev/console is neither a file nor a device");
  int tree = (int)syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (tree < 0) fail(errno, "clone the console for /dev/console");
  if (syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) fail(errno, "bind the console onto /dev/console");
  close(tree);
  close(target);
  close(dev);
}


void op_terminal(const struct op *op) {
  int sock = (int)arg_int(op, 0);
  int64_t rows = arg_int(op, 1), cols = arg_int(op, 2);
  int console = (int)arg_int(op, 3);
  uid_t uid = (uid_t)arg_int(op, 4);

  int master = open_strict("/dev/pts/ptmx", O_RDWR | O_NOCTTY, 0);
  if (master < 0) fail(errno, "open /dev/pts/ptmx");
  check_devpts(master, "/dev/pts/ptmx");
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0) fail(errno, "unlockpt");
  unsigned ptn;
  if (ioctl(master, TIOCGPTN, &ptn) != 0) fail(errno, "ptsname");
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) fail(errno, "open the pty slave (TIOCGPTPEER)");
  struct stat st;
  if (fstat(slave, &st) != 0) fail(errno, "stat the pty slave");
  check_devpts(slave, "the pty slave");
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(UNIX98_PTY_SLAVE_MAJOR + ptn / 256, ptn % 256))
    fail(-EXDEV, "the pty slave is not /dev/pts/%u", ptn);
  /* The process user's pty, so it can use its console (runc's fixStdioPermissions: the uid only; the
   * gid stays devpts's gid= option). A uid or owner not mapped in our user namespace (EINVAL, EPERM)
   * leaves it as it is, as runc does. /dev/console is a bind of this inode: it follows. */
  if (st.st_uid != uid && fchown(slave, uid, (gid_t)-1) != 0 && errno != EINVAL && errno != EPERM)
    fail(errno, "chown the pty slave to uid %u", (unsigned)uid);
  if (rows > 0 && cols > 0) {
    struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
    if (ioctl(master, TIOCSWINSZ, &ws) != 0) fail(errno, "set the console size");
  }
  if (console) mount_console(slave);
  static const char name[] = "/dev/ptmx"; /* the name runc sends; receivers ignore it */
  send_fd(sock, name, sizeof name - 1, master, "send the pty master over the console socket");
  close(sock);
  close(master);

  /* The slave becomes stdio and the controlling terminal (setsid: an exec'd process is not yet
   * a session leader; the container's init already is). */
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave, fd) < 0) fail(errno, "dup the pty slave onto fd %d", fd);
  if (slave > 2) close(slave);
  if (setsid() < 0 && errno != EPERM) fail(errno, "setsid");
  if (ioctl(0, TIOCSCTTY, 0) != 0) fail(errno, "make the pty the controlling terminal");
}
