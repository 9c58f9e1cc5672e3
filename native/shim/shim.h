/* containerd-shim-tsrunc-v2's fast paths (main.c): the pieces that decide a container's group exactly as
 * packages/shim/src/{options,group}.ts do, and `delete`'s (delete.c) as delete.ts does. Each answers FAST_OK or
 * FAST_UNSURE; unsure (anything unexpected, unparsable, or outside the subset this C reads) means node decides, and
 * gives the real answer or the error. */
#ifndef TSRUNC_SHIM_H
#define TSRUNC_SHIM_H

#include <stddef.h>

#define FAST_OK 0
#define FAST_UNSURE (-1)

enum shim_group { GROUP_NAMESPACE, GROUP_POD, GROUP_CONTAINER };

/* options.c: the group an encoded options Any (start's stdin; empty = none) asks for. */
int options_group(const unsigned char *any, size_t len, enum shim_group *group);

/* json.c: config.json's annotations["io.kubernetes.cri.sandbox-id"] into out (NUL-terminated); *found = 0 when
 * there is none. Unsure for a value that is not a plain ASCII string of < cap bytes. */
int json_sandbox_id(const char *json, size_t len, char *out, size_t cap, int *found);

/* Reads a whole file into a malloc'd buffer of at most `max` bytes: FAST_OK, or FAST_UNSURE (errno set). */
int read_file(const char *path, size_t max, char **data, size_t *len);

/* main.c: Go's filepath.Clean of `in` (as rooted or relative as it is) into out, which has room for strlen(in) + 2. */
void clean_path(const char *in, char *out);

/* Room for delete_fast's response: three tags, a varint of 137, a Timestamp of two varints and its length. */
#define DELETE_RESPONSE_MAX 64

/* delete.c: the DeleteResponse packages/shim/src/delete.ts would print, into response, when the container has no
 * state dir and nothing is mounted at or below <bundle>/rootfs; unsure in every other case (node cleans up). */
int delete_fast(const char *namespace, const char *id, const char *bundle, unsigned char *response, size_t *response_len);

#endif
