/* lodger-helper: builds and loads the container's seccomp filter with libseccomp from the rules the CLI
 * compiled out of a Docker-format profile ("seccomp" and "seccomp-rule" records). */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void releasep(scmp_filter_ctx *ctx) { if (*ctx) seccomp_release(*ctx); }
#define AUTORELEASE __attribute__((cleanup(releasep)))

/* allow | errno:N | kill_thread | kill_process | trap | log | trace:N — the CLI maps Docker's SCMP_ACT_* names. */
static int parse_action(const char *s, uint32_t *out) {
  unsigned long n = 0;
  if (!strcmp(s, "allow")) *out = SCMP_ACT_ALLOW;
  else if (!strcmp(s, "kill_thread")) *out = SCMP_ACT_KILL;
  else if (!strcmp(s, "kill_process")) *out = SCMP_ACT_KILL_PROCESS;
  else if (!strcmp(s, "trap")) *out = SCMP_ACT_TRAP;
  else if (!strcmp(s, "log")) *out = SCMP_ACT_LOG;
  else if (sscanf(s, "errno:%lu", &n) == 1 && n < 4096) *out = SCMP_ACT_ERRNO((uint32_t)n);
  else if (sscanf(s, "trace:%lu", &n) == 1 && n < 65536) *out = SCMP_ACT_TRACE((uint32_t)n);
  else return -1;
  return 0;
}

/* INDEX:OP:VALUE:VALUETWO, OP one of ne lt le eq ge gt masked_eq (for masked_eq VALUE is the mask). */
static int parse_cond(const char *s, struct scmp_arg_cmp *c) {
  unsigned int idx;
  char op[16];
  unsigned long long v, v2;
  if (sscanf(s, "%u:%15[a-z_]:%llu:%llu", &idx, op, &v, &v2) != 4 || idx > 5) return -1;
  enum scmp_compare cmp;
  if (!strcmp(op, "ne")) cmp = SCMP_CMP_NE;
  else if (!strcmp(op, "lt")) cmp = SCMP_CMP_LT;
  else if (!strcmp(op, "le")) cmp = SCMP_CMP_LE;
  else if (!strcmp(op, "eq")) cmp = SCMP_CMP_EQ;
  else if (!strcmp(op, "ge")) cmp = SCMP_CMP_GE;
  else if (!strcmp(op, "gt")) cmp = SCMP_CMP_GT;
  else if (!strcmp(op, "masked_eq")) cmp = SCMP_CMP_MASKED_EQ;
  else return -1;
  *c = (struct scmp_arg_cmp){ .arg = idx, .op = cmp, .datum_a = v, .datum_b = v2 };
  return 0;
}

/* seccomp-rule ACTION NCOND COND… NAME…: one action for every named syscall, under all the conditions. */
static int add_rule(scmp_filter_ctx ctx, uint32_t def, const struct step *r, struct lerr *e) {
  uint32_t action;
  if (parse_action(r->argv[0], &action) < 0) return failf(e, F_SECCOMP_RULE, r->argv[0], EINVAL, "unknown action");
  int ncond = atoi(r->argv[1]);
  if (ncond < 0 || ncond > 6 || 2 + ncond > r->argc) return failf(e, F_SECCOMP_RULE, r->argv[1], EINVAL, "bad condition count");
  struct scmp_arg_cmp conds[6];
  for (int i = 0; i < ncond; i++)
    if (parse_cond(r->argv[2 + i], &conds[i]) < 0) return failf(e, F_SECCOMP_RULE, r->argv[2 + i], EINVAL, "bad argument condition");
  /* libseccomp refuses a rule whose action is the default (EACCES in seccomp_rule_add(3)); it would change nothing. */
  if (action == def) return 0;
  for (int i = 2 + ncond; i < r->argc; i++) {
    const char *name = r->argv[i];
    /* A name this libseccomp cannot resolve for any architecture is left out, as Docker does: the syscall
     * then gets the default action. Names of other architectures resolve to pseudo-numbers and are fine. */
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    int rc = seccomp_rule_add_array(ctx, action, nr, (unsigned int)ncond, conds);
    if (rc == -EEXIST) continue;
    if (rc < 0) return failf(e, F_SECCOMP_RULE, name, -rc, "libseccomp refused the rule for %s", name);
  }
  return 0;
}

/* Compiles the rules into a BPF program with libseccomp (exported, not loaded) into S->bpf. */
static int seccomp_compile(struct security *s, struct lerr *e) {
  uint32_t def;
  if (parse_action(s->seccomp_default, &def) < 0) return failf(e, F_SECCOMP, s->seccomp_default, EINVAL, "unknown default action");
  scmp_filter_ctx ctx AUTORELEASE = seccomp_init(def);
  if (!ctx) return fail(e, F_SECCOMP, "init", ENOMEM);
  /* libseccomp sets no_new_privs itself unless told not to; whether it is set is the CLI's decision. */
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return fail(e, F_SECCOMP, "attribute", -rc);
  for (int i = 0; i < s->nseccomp_arches; i++) {
    uint32_t arch = seccomp_arch_resolve_name(s->seccomp_arches[i]);
    if (!arch) return failf(e, F_SECCOMP, s->seccomp_arches[i], EINVAL, "unknown architecture");
    rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return failf(e, F_SECCOMP, s->seccomp_arches[i], -rc, "adding the architecture failed");
  }
  for (int i = 0; i < s->nseccomp_rules; i++)
    if (add_rule(ctx, def, &s->seccomp_rules[i], e) < 0) return -1;
  int fd AUTOCLOSE = memfd_create("seccomp-bpf", MFD_CLOEXEC);
  if (fd < 0) return fail(e, F_SECCOMP, "memfd", errno);
  rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) return failf(e, F_SECCOMP, "export", -rc, "compiling the filter failed");
  off_t len = lseek(fd, 0, SEEK_END);
  if (len <= 0 || len % (off_t)sizeof(struct sock_filter)) return fail(e, F_SECCOMP, "export", EINVAL);
  s->bpf = malloc((size_t)len);
  if (!s->bpf || pread(fd, s->bpf, (size_t)len, 0) != len) return fail(e, F_SECCOMP, "export", EIO);
  s->bpf_len = (size_t)len;
  return 0;
}

/* Reads a cached program: the cache file is named by a hash of the rules (the CLI chose it), so a
 * file that exists and has the shape of a BPF program is the program for exactly these rules. */
static int read_cache(struct security *s) {
  int fd AUTOCLOSE = open(s->seccomp_cache, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) || st.st_size > (1 << 20)) return -1;
  s->bpf = malloc((size_t)st.st_size);
  if (!s->bpf || read_all(fd, s->bpf, (size_t)st.st_size) != st.st_size) { free(s->bpf); s->bpf = NULL; return -1; }
  s->bpf_len = (size_t)st.st_size;
  return 0;
}

static void write_cache(const struct security *s) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", s->seccomp_cache, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return;
  int ok = write_all(fd, s->bpf, s->bpf_len) >= 0;
  close(fd);
  if (!ok || rename(tmp, s->seccomp_cache) < 0) unlink(tmp);
}

/* In the helper, before any container process exists: the filter ready to load, from the cache when it
 * is there (compiling a Docker-sized profile for three architectures costs milliseconds every start). */
int seccomp_prepare(struct security *s, struct lerr *e) {
  if (!s || !s->seccomp_default || s->bpf) return 0;
  if (s->seccomp_cache && read_cache(s) == 0) return 0;
  if (seccomp_compile(s, e) < 0) return -1;
  /* libseccomp's filter database is freed now, but the heap keeps its pages (~1 MiB): a detached
   * monitor lives as long as its container, so give them back (its RSS target is 2 MiB). */
  malloc_trim(0);
  if (s->seccomp_cache) write_cache(s);
  return 0;
}

/* In the container's process, last before exec: load the prepared program (seccomp(2), needs
 * no_new_privs or CAP_SYS_ADMIN in the user namespace — the caller sees to it). */
int seccomp_apply(const struct security *s, struct lerr *e) {
  if (!s->bpf) return fail(e, F_SECCOMP, "load", EINVAL);
  struct sock_fprog prog = { .len = (unsigned short)(s->bpf_len / sizeof(struct sock_filter)), .filter = s->bpf };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    return failf(e, F_SECCOMP, "load", errno, "loading the filter into the kernel failed");
  return 0;
}
