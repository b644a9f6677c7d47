/* lodger-helper: the one error record and the JSON-lines report channel to the CLI. */
#include "helper.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int report_fd = -1;

/* The step names of failure reports (steps.def); TypeScript turns each into a message (helperErrors.ts). */
#define SETTING(id, name, kinds)
#define STEP(id, name, kinds)
#define FAILURE(id, name) const char F_##id[] = name;
#include "steps.def"
#undef SETTING
#undef STEP
#undef FAILURE

int fail(struct lerr *e, const char *step, const char *path, int err) {
  snprintf(e->step, sizeof e->step, "%s", step);
  snprintf(e->path, sizeof e->path, "%s", path ? path : "");
  e->err = err;
  e->detail[0] = 0;
  return -1;
}

int failf(struct lerr *e, const char *step, const char *path, int err, const char *fmt, ...) {
  fail(e, step, path, err);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->detail, sizeof e->detail, fmt, ap);
  va_end(ap);
  return -1;
}

ssize_t write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  size_t left = n;
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; left -= (size_t)w;
  }
  return (ssize_t)n;
}

ssize_t read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0) { if (errno == EINTR) continue; return -1; }
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

/* JSON string escaping for paths and stderr text: control characters become \u00XX. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void emit(const char *line, size_t n) {
  if (report_fd >= 0) write_all(report_fd, line, n);
}

void report_error(const struct lerr *e) {
  char *buf = NULL; size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return;
  fputs("{\"event\":\"error\",\"step\":", f); json_str(f, e->step);
  fputs(",\"path\":", f); json_str(f, e->path);
  fprintf(f, ",\"errno\":%d,\"detail\":", e->err); json_str(f, e->detail);
  fputs("}\n", f);
  fclose(f);
  emit(buf, n);
  free(buf);
}

void report_event(const char *event, const char *key, long long value) {
  char line[256];
  int n = key ? snprintf(line, sizeof line, "{\"event\":\"%s\",\"%s\":%lld}\n", event, key, value)
              : snprintf(line, sizeof line, "{\"event\":\"%s\"}\n", event);
  emit(line, (size_t)n);
}
