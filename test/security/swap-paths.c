/* swap-paths A B: exchanges the two paths atomically (renameat2 RENAME_EXCHANGE), for ever. A static
 * helper for container-files.test.ts: the container's attack on a runtime that checks a path and
 * then reads it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: swap-paths A B\n");
    return 2;
  }
  for (;;)
    if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) != 0) {
      perror("renameat2");
      return 1;
    }
}
