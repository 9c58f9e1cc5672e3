/* The options Any, as packages/shim/src/options.ts decodes it: protobuf by hand (varints, lengths, known fields'
 * wire types checked), runtimeoptions' TOML (config_path or config_body) read in the same subset for shim_group. */
#define _GNU_SOURCE
#include "shim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GOOGLE_TYPE_PREFIX "type.googleapis.com/"
#define TOML_FILE_MAX (1 << 20)
#define TOML_KEYS_MAX 64
#define TOML_KEY_MAX 128

struct span {
  const unsigned char *p;
  size_t len;
};

static int span_is(struct span s, const char *text) { return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0; }

/* ---- protobuf ---- */

struct pb {
  const unsigned char *p, *end;
};

static int pb_varint(struct pb *r, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && r->p < r->end; shift += 7) {
    unsigned char b = *r->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return FAST_OK;
  }
  return FAST_UNSURE;
}

/* The next field: its number, wire type, and for length-delimited fields its bytes (other values skipped). */
static int pb_field(struct pb *r, uint32_t *number, int *wire, struct span *bytes) {
  uint64_t tag, n;
  if (pb_varint(r, &tag) != FAST_OK || tag >> 3 == 0 || tag >> 3 > UINT32_MAX) return FAST_UNSURE;
  *number = (uint32_t)(tag >> 3);
  *wire = (int)(tag & 7);
  switch (*wire) {
  case 0:
    return pb_varint(r, &n);
  case 1:
  case 5: {
    size_t size = *wire == 1 ? 8 : 4;
    if ((size_t)(r->end - r->p) < size) return FAST_UNSURE;
    r->p += size;
    return FAST_OK;
  }
  case 2:
    if (pb_varint(r, &n) != FAST_OK || n > (uint64_t)(r->end - r->p)) return FAST_UNSURE;
    bytes->p = r->p;
    bytes->len = (size_t)n;
    r->p += n;
    return FAST_OK;
  default: /* groups, and wire types that do not exist */
    return FAST_UNSURE;
  }
}

/* Walks a message whose fields 1..nfields have the wire types in `wires` (-1: not a field we know), keeping the
 * last value of each length-delimited field in `spans` (protobuf: the last one wins). */
static int pb_message(struct span msg, const int *wires, size_t nfields, struct span *spans) {
  struct pb r = {msg.p, msg.p + msg.len};
  while (r.p < r.end) {
    uint32_t number;
    int wire;
    struct span bytes = {0};
    if (pb_field(&r, &number, &wire, &bytes) != FAST_OK) return FAST_UNSURE;
    if (number > nfields || wires[number - 1] < 0) continue;
    if (wire != wires[number - 1]) return FAST_UNSURE;
    if (wire == 2 && spans) spans[number - 1] = bytes;
  }
  return FAST_OK;
}

/* ---- TOML (options.ts readTopLevelToml) ---- */

struct line {
  const unsigned char *p, *end;
};

static int at_end(const struct line *l) { return l->p >= l->end; }
static int peek(const struct line *l) { return at_end(l) ? -1 : *l->p; }
static void skip_space(struct line *l) {
  while (peek(l) == ' ' || peek(l) == '\t') l->p++;
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int put(unsigned char *out, size_t cap, size_t *len, unsigned char c) {
  if (*len >= cap) return FAST_UNSURE;
  out[(*len)++] = c;
  return FAST_OK;
}

static int put_utf8(unsigned char *out, size_t cap, size_t *len, uint32_t cp) {
  unsigned char b[4];
  size_t n;
  if (cp < 0x80) b[0] = (unsigned char)cp, n = 1;
  else if (cp < 0x800) b[0] = (unsigned char)(0xc0 | cp >> 6), b[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
  else if (cp < 0x10000)
    b[0] = (unsigned char)(0xe0 | cp >> 12), b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)), b[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
  else
    b[0] = (unsigned char)(0xf0 | cp >> 18), b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)), b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
    b[3] = (unsigned char)(0x80 | (cp & 0x3f)), n = 4;
  for (size_t i = 0; i < n; i++)
    if (put(out, cap, len, b[i]) != FAST_OK) return FAST_UNSURE;
  return FAST_OK;
}

static int simple_escape(int e) {
  switch (e) {
  case 'b': return '\b';
  case 't': return '\t';
  case 'n': return '\n';
  case 'f': return '\f';
  case 'r': return '\r';
  case '"': return '"';
  case '\\': return '\\';
  default: return -1;
  }
}

/* A one-line basic ("…", escapes) or literal ('…') string, decoded into out. */
static int toml_string(struct line *l, unsigned char *out, size_t cap, size_t *len) {
  int quote = *l->p++;
  *len = 0;
  for (;;) {
    if (at_end(l)) return FAST_UNSURE;
    int c = *l->p++;
    if (c == quote) break;
    if (quote == '\'' || c != '\\') {
      if (put(out, cap, len, (unsigned char)c) != FAST_OK) return FAST_UNSURE;
      continue;
    }
    if (at_end(l)) return FAST_UNSURE;
    int e = *l->p++;
    int simple = simple_escape(e);
    if (simple >= 0) {
      if (put(out, cap, len, (unsigned char)simple) != FAST_OK) return FAST_UNSURE;
    } else if (e == 'u' || e == 'U') {
      int digits = e == 'u' ? 4 : 8;
      if (l->end - l->p < digits) return FAST_UNSURE;
      uint32_t cp = 0;
      for (int i = 0; i < digits; i++) {
        int h = hex_value(l->p[i]);
        if (h < 0) return FAST_UNSURE;
        cp = cp << 4 | (uint32_t)h;
      }
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return FAST_UNSURE;
      if (put_utf8(out, cap, len, cp) != FAST_OK) return FAST_UNSURE;
      l->p += digits;
    } else
      return FAST_UNSURE;
  }
  /* An empty string followed by its quote opens a multi-line string: not in the subset. */
  if (*len == 0 && peek(l) == quote) return FAST_UNSURE;
  return FAST_OK;
}

static int digit_in_base(int c, int base) {
  int v = hex_value(c);
  return v >= 0 && v < base;
}

/* [+-]?(0|[1-9](_?[0-9])*) | 0x… | 0o… | 0b… (digits with single underscores between them, no sign). */
static int toml_integer(struct span w) {
  const unsigned char *p = w.p, *end = w.p + w.len;
  int base = 10;
  if (w.len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
    base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
    p += 2;
  } else {
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (end - p == 1 && *p == '0') return 1;
    if (p >= end || *p < '1' || *p > '9') return 0;
  }
  if (p >= end || !digit_in_base(*p, base)) return 0;
  for (p++; p < end; p++) {
    if (*p == '_') p++;
    if (p >= end || !digit_in_base(*p, base)) return 0;
  }
  return 1;
}

static int bare_key_char(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'; }

/* `[name]` or `[[name]]`, then spaces and an optional comment (options.ts's table header pattern). */
static int toml_table_header(struct line *l) {
  const unsigned char *p = l->p + 1;
  if (p < l->end && *p == '[') p++;
  const unsigned char *name = p;
  while (p < l->end && *p != '[' && *p != ']') p++;
  if (p == name || p >= l->end || *p != ']') return FAST_UNSURE;
  p++;
  if (p < l->end && *p == ']') p++;
  while (p < l->end && (*p == ' ' || *p == '\t')) p++;
  if (p < l->end && *p != '#') return FAST_UNSURE;
  /* The pattern's `.` in the comment stops at \r (and at non-ASCII line separators: all non-ASCII is refused). */
  for (; p < l->end; p++)
    if (*p == '\r') return FAST_UNSURE;
  return FAST_OK;
}

static int toml_group(const unsigned char *text, size_t len, enum shim_group *group) {
  unsigned char keys[TOML_KEYS_MAX][TOML_KEY_MAX];
  size_t key_lens[TOML_KEYS_MAX];
  size_t nkeys = 0;
  int in_table = 0;
  /* Non-ASCII is where JavaScript strings and bytes part ways (U+FFFD for bad UTF-8, `.` and U+2028): node reads it. */
  for (size_t i = 0; i < len; i++)
    if (text[i] >= 0x80) return FAST_UNSURE;
  *group = GROUP_NAMESPACE;
  for (size_t start = 0, stop; start <= len; start = stop + 1) {
    const unsigned char *nl = memchr(text + start, '\n', len - start);
    stop = nl ? (size_t)(nl - text) : len;
    struct line l = {text + start, text + stop};
    if (l.end > l.p && l.end[-1] == '\r') l.end--;
    skip_space(&l);
    if (at_end(&l) || peek(&l) == '#') continue;
    if (peek(&l) == '[') {
      if (toml_table_header(&l) != FAST_OK) return FAST_UNSURE;
      in_table = 1;
      continue;
    }
    unsigned char key[TOML_KEY_MAX], value[TOML_KEY_MAX];
    size_t key_len = 0, value_len = 0;
    int quoted = peek(&l) == '"' || peek(&l) == '\'';
    if (quoted) {
      if (toml_string(&l, key, sizeof key, &key_len) != FAST_OK) return FAST_UNSURE;
    } else {
      while (!at_end(&l) && bare_key_char(*l.p)) {
        if (key_len == sizeof key) return FAST_UNSURE;
        key[key_len++] = *l.p++;
      }
      if (key_len == 0) return FAST_UNSURE;
    }
    skip_space(&l);
    if (peek(&l) != '=') return FAST_UNSURE;
    l.p++;
    skip_space(&l);
    int is_string = peek(&l) == '"' || peek(&l) == '\'';
    if (is_string) {
      if (toml_string(&l, value, sizeof value, &value_len) != FAST_OK) return FAST_UNSURE;
    } else {
      struct span word = {l.p, 0};
      while (!at_end(&l) && *l.p != ' ' && *l.p != '\t' && *l.p != '#') l.p++, word.len++;
      if (!span_is(word, "true") && !span_is(word, "false") && !toml_integer(word)) return FAST_UNSURE;
    }
    skip_space(&l);
    if (!at_end(&l) && peek(&l) != '#') return FAST_UNSURE;
    if (in_table || (!quoted && memchr(key, '.', key_len))) continue;
    for (size_t i = 0; i < nkeys; i++)
      if (key_lens[i] == key_len && memcmp(keys[i], key, key_len) == 0) return FAST_UNSURE; /* a duplicate: node's error */
    if (nkeys == TOML_KEYS_MAX) return FAST_UNSURE;
    memcpy(keys[nkeys], key, key_len);
    key_lens[nkeys++] = key_len;
    if (!(key_len == 10 && memcmp(key, "shim_group", 10) == 0)) continue;
    struct span v = {value, value_len};
    if (is_string && span_is(v, "namespace")) *group = GROUP_NAMESPACE;
    else if (is_string && span_is(v, "pod")) *group = GROUP_POD;
    else if (is_string && span_is(v, "container")) *group = GROUP_CONTAINER;
    else return FAST_UNSURE; /* node names the key and the values it allows */
  }
  return FAST_OK;
}

/* ---- the Any ---- */

/* containerd.runc.v1.Options: bools 1, 2, 9; strings 3, 6, 7, 8, 10, 11, 12; uint32 4, 5, 13. */
static const int RUNC_WIRES[] = {0, 0, 2, 0, 0, 2, 2, 2, 0, 2, 2, 2, 0};
/* runtimeoptions.v1.Options: type_url 1, config_path 2, config_body 3. */
static const int RUNTIME_WIRES[] = {2, 2, 2};
static const int ANY_WIRES[] = {2, 2};

static int runtime_options_group(struct span msg, enum shim_group *group) {
  struct span fields[3] = {{0}};
  if (pb_message(msg, RUNTIME_WIRES, 3, fields) != FAST_OK) return FAST_UNSURE;
  struct span path = fields[1], body = fields[2];
  if (path.len == 0) return toml_group(body.p, body.len, group);
  char file[4096];
  if (path.len >= sizeof file || path.p[0] != '/' || memchr(path.p, 0, path.len)) return FAST_UNSURE;
  for (size_t i = 0; i < path.len; i++)
    if (path.p[i] >= 0x80) return FAST_UNSURE;
  memcpy(file, path.p, path.len);
  file[path.len] = 0;
  char *text;
  size_t len;
  if (read_file(file, TOML_FILE_MAX, &text, &len) != FAST_OK) return FAST_UNSURE;
  int rc = toml_group((const unsigned char *)text, len, group);
  free(text);
  return rc;
}

int options_group(const unsigned char *any, size_t len, enum shim_group *group) {
  *group = GROUP_NAMESPACE;
  if (len == 0) return FAST_OK;
  struct span fields[2] = {{0}};
  if (pb_message((struct span){any, len}, ANY_WIRES, 2, fields) != FAST_OK) return FAST_UNSURE;
  struct span type = fields[0], value = fields[1];
  if (value.len == 0) return FAST_OK;
  size_t prefix = strlen(GOOGLE_TYPE_PREFIX);
  if (type.len >= prefix && memcmp(type.p, GOOGLE_TYPE_PREFIX, prefix) == 0) type.p += prefix, type.len -= prefix;
  if (span_is(type, "containerd.runc.v1.Options")) return pb_message(value, RUNC_WIRES, sizeof RUNC_WIRES / sizeof *RUNC_WIRES, NULL);
  if (span_is(type, "runtimeoptions.v1.Options")) return runtime_options_group(value, group);
  return FAST_UNSURE;
}
