/* sysprobe NR [ARG...]: makes syscall NR with integer args and prints "ok" or the errno name's number. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  long a[6] = {0};
  for (int i = 2; i < argc && i < 8; i++) a[i - 2] = strtol(argv[i], NULL, 0);
  long r = syscall(strtol(argv[1], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
  if (r < 0) printf("errno=%d %s\n", errno, strerror(errno));
  else printf("ok=%ld\n", r);
  return 0;
}
