/* config.json's CRI sandbox id, read as group.ts reads it (JSON.parse, then annotations[…] if it is a string): a
 * small but complete JSON walker (strings with every escape, numbers, nested values, duplicate keys: the last wins). */
#define _GNU_SOURCE
#include "shim.h"

#include <stdint.h>
#include <string.h>

#define SANDBOX_ID_ANNOTATION "io.kubernetes.cri.sandbox-id"
#define DEPTH_MAX 256
#define KEY_MAX 256

struct json {
  const unsigned char *p, *end;
  int depth;
};

/* What the last member seen says; the document's answer is the last one (JSON.parse keeps the last duplicate). */
enum sandbox { SANDBOX_ABSENT, SANDBOX_STRING, SANDBOX_OTHER };

static void skip_ws(struct json *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int literal(struct json *j, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) return FAST_UNSURE;
  j->p += n;
  return FAST_OK;
}

static int hex4(struct json *j, uint32_t *v) {
  if (j->end - j->p < 4) return FAST_UNSURE;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    int c = *j->p++, h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (h < 0) return FAST_UNSURE;
    *v = *v << 4 | (uint32_t)h;
  }
  return FAST_OK;
}

/* A string at j->p, decoded into out (UTF-8) when out is given. Unsure when it does not fit, or when decoding would
 * need what bytes cannot say as JavaScript does (non-ASCII: bad UTF-8 and lone surrogates become U+FFFD there). */
static int string(struct json *j, char *out, size_t cap, size_t *len) {
  size_t n = 0;
  j->p++;
  for (;;) {
    if (j->p >= j->end) return FAST_UNSURE;
    unsigned char c = *j->p++;
    uint32_t cp = c;
    if (c == '"') break;
    if (c < 0x20) return FAST_UNSURE; /* JSON forbids raw control characters in strings */
    if (c == '\\') {
      if (j->p >= j->end) return FAST_UNSURE;
      switch (*j->p++) {
      case '"': cp = '"'; break;
      case '\\': cp = '\\'; break;
      case '/': cp = '/'; break;
      case 'b': cp = '\b'; break;
      case 'f': cp = '\f'; break;
      case 'n': cp = '\n'; break;
      case 'r': cp = '\r'; break;
      case 't': cp = '\t'; break;
      case 'u':
        if (hex4(j, &cp) != FAST_OK) return FAST_UNSURE;
        break;
      default: return FAST_UNSURE;
      }
    }
    if (!out) continue;
    if (cp >= 0x80 || n + 1 >= cap) return FAST_UNSURE;
    out[n++] = (char)cp;
  }
  if (out) {
    out[n] = 0;
    *len = n;
  }
  return FAST_OK;
}

static int digits(struct json *j) {
  const unsigned char *start = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
  return j->p > start ? FAST_OK : FAST_UNSURE;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct json *j) {
  if (*j->p == '-') j->p++;
  if (j->p < j->end && *j->p == '0') j->p++;
  else if (digits(j) != FAST_OK) return FAST_UNSURE;
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (digits(j) != FAST_OK) return FAST_UNSURE;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
    if (digits(j) != FAST_OK) return FAST_UNSURE;
  }
  return FAST_OK;
}

typedef int (*member_fn)(struct json *j, const char *key, void *ctx);

static int value(struct json *j, member_fn member, void *ctx);

/* An object at j->p: `member` sees each key with j->p at its value, and must consume the value. */
static int object(struct json *j, member_fn member, void *ctx) {
  if (++j->depth > DEPTH_MAX) return FAST_UNSURE;
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == '}') {
    j->p++;
    j->depth--;
    return FAST_OK;
  }
  for (;;) {
    char key[KEY_MAX];
    size_t key_len;
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"') return FAST_UNSURE;
    /* A key we cannot hold is none we look for: skip it. */
    const unsigned char *at = j->p;
    if (string(j, key, sizeof key, &key_len) != FAST_OK) {
      j->p = at;
      if (string(j, NULL, 0, NULL) != FAST_OK) return FAST_UNSURE;
      key[0] = 0;
      key_len = 0;
    }
    skip_ws(j);
    if (j->p >= j->end || *j->p++ != ':') return FAST_UNSURE;
    skip_ws(j);
    /* A key with an embedded NUL never equals a name we look for. */
    int rc = member && strlen(key) == key_len ? member(j, key, ctx) : value(j, NULL, NULL);
    if (rc != FAST_OK) return FAST_UNSURE;
    skip_ws(j);
    if (j->p >= j->end) return FAST_UNSURE;
    if (*j->p == '}') break;
    if (*j->p++ != ',') return FAST_UNSURE;
  }
  j->p++;
  j->depth--;
  return FAST_OK;
}

static int array(struct json *j) {
  if (++j->depth > DEPTH_MAX) return FAST_UNSURE;
  j->p++;
  skip_ws(j);
  if (j->p < j->end && *j->p == ']') {
    j->p++;
    j->depth--;
    return FAST_OK;
  }
  for (;;) {
    skip_ws(j);
    if (value(j, NULL, NULL) != FAST_OK) return FAST_UNSURE;
    skip_ws(j);
    if (j->p >= j->end) return FAST_UNSURE;
    if (*j->p == ']') break;
    if (*j->p++ != ',') return FAST_UNSURE;
  }
  j->p++;
  j->depth--;
  return FAST_OK;
}

/* Any value at j->p; an object's members go to `member` when given. */
static int value(struct json *j, member_fn member, void *ctx) {
  if (j->p >= j->end) return FAST_UNSURE;
  switch (*j->p) {
  case '{': return object(j, member, ctx);
  case '[': return array(j);
  case '"': return string(j, NULL, 0, NULL);
  case 't': return literal(j, "true");
  case 'f': return literal(j, "false");
  case 'n': return literal(j, "null");
  default: return *j->p == '-' || (*j->p >= '0' && *j->p <= '9') ? number(j) : FAST_UNSURE;
  }
}

struct found {
  enum sandbox sandbox;
  char *out;
  size_t cap;
};

static int annotation(struct json *j, const char *key, void *ctx) {
  struct found *f = ctx;
  if (strcmp(key, SANDBOX_ID_ANNOTATION) != 0) return value(j, NULL, NULL);
  size_t len;
  if (*j->p != '"') {
    f->sandbox = SANDBOX_OTHER;
    return value(j, NULL, NULL);
  }
  f->sandbox = SANDBOX_STRING;
  if (string(j, f->out, f->cap, &len) != FAST_OK) return FAST_UNSURE;
  /* An id with a NUL in it is one C strings cannot carry. */
  return strlen(f->out) == len ? FAST_OK : FAST_UNSURE;
}

static int top_member(struct json *j, const char *key, void *ctx) {
  struct found *f = ctx;
  if (strcmp(key, "annotations") != 0) return value(j, NULL, NULL);
  /* A later "annotations" replaces an earlier one, whatever either holds. */
  f->sandbox = SANDBOX_ABSENT;
  if (*j->p != '{') return value(j, NULL, NULL);
  return object(j, annotation, f);
}

int json_sandbox_id(const char *json, size_t len, char *out, size_t cap, int *found) {
  struct json j = {(const unsigned char *)json, (const unsigned char *)json + len, 0};
  struct found f = {SANDBOX_ABSENT, out, cap};
  skip_ws(&j);
  /* Only an object can carry annotations; anything else node reads (and reports if it is not JSON). */
  if (j.p >= j.end || *j.p != '{') return FAST_UNSURE;
  if (object(&j, top_member, &f) != FAST_OK) return FAST_UNSURE;
  skip_ws(&j);
  if (j.p != j.end) return FAST_UNSURE;
  if (f.sandbox == SANDBOX_OTHER) return FAST_UNSURE;
  *found = f.sandbox == SANDBOX_STRING && out[0] != 0;
  return FAST_OK;
}
