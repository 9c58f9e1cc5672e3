/* Decoding of the plan payload: every length is checked against what remains (SECURITY.md #9). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "init.h"

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v; /* the protocol is little-endian, as is every host we build for */
}

int plan_decode(const uint8_t *buf, size_t len, struct op **ops_out, const char **why) {
  size_t cap = 16, n = 0, off = 0;
  struct op *ops = calloc(cap, sizeof *ops);
  if (!ops) { *why = "out of memory"; return -1; }
  while (off < len) {
    if (len - off < 8) { *why = "truncated op header"; goto bad; }
    if (n == cap) {
      cap *= 2;
      struct op *grown = realloc(ops, cap * sizeof *ops);
      if (!grown) { *why = "out of memory"; goto bad; }
      ops = grown;
    }
    struct op *op = &ops[n];
    op->code = rd32(buf + off);
    op->argc = rd32(buf + off + 4);
    off += 8;
    if (op->argc > PLAN_MAX_ARGS) { *why = "too many args"; goto bad; }
    for (uint32_t i = 0; i < op->argc; i++) {
      if (len - off < 4) { *why = "truncated arg length"; goto bad; }
      uint32_t alen = rd32(buf + off);
      off += 4;
      if (alen > len - off) { *why = "arg longer than the message"; goto bad; }
      op->args[i].data = buf + off;
      op->args[i].len = alen;
      off += alen;
    }
    n++;
  }
  *ops_out = ops;
  return (int)n;
bad:
  free(ops);
  return -1;
}

int64_t arg_int(const struct op *op, uint32_t i) {
  if (i >= op->argc || op->args[i].len != 8) fail(EINVAL, "malformed plan: op %u arg %u is not an integer", op->code, i);
  int64_t v;
  memcpy(&v, op->args[i].data, 8);
  return v;
}

const char *arg_str(const struct op *op, uint32_t i) {
  if (i >= op->argc || op->args[i].len == 0) fail(EINVAL, "malformed plan: op %u arg %u is not a string", op->code, i);
  const struct arg *a = &op->args[i];
  if (a->data[a->len - 1] != 0 || memchr(a->data, 0, a->len) != a->data + a->len - 1)
    fail(EINVAL, "malformed plan: op %u arg %u is not a NUL-terminated string", op->code, i);
  return (const char *)a->data;
}

char **arg_list(const struct op *op, uint32_t i, size_t *count) {
  if (i >= op->argc) fail(EINVAL, "malformed plan: op %u has no arg %u", op->code, i);
  const struct arg *a = &op->args[i];
  if (a->len > 0 && a->data[a->len - 1] != 0) fail(EINVAL, "malformed plan: op %u arg %u is not a string list", op->code, i);
  size_t n = 0;
  for (uint32_t k = 0; k < a->len; k++) n += a->data[k] == 0;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) fail(ENOMEM, "out of memory");
  const char *p = (const char *)a->data;
  for (size_t k = 0; k < n; k++) {
    v[k] = (char *)p;
    p += strlen(p) + 1;
  }
  *count = n;
  return v;
}
