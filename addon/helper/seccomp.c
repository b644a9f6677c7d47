/* lodger-helper: builds and loads the container's seccomp filter with libseccomp from the rules the CLI
 * compiled out of a Docker-format profile ("seccomp" and "seccomp-rule" records). */
#include "helper.h"

#include <errno.h>
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
  if (parse_action(r->argv[0], &action) < 0) return failf(e, "seccomp-rule", r->argv[0], EINVAL, "unknown action");
  int ncond = atoi(r->argv[1]);
  if (ncond < 0 || ncond > 6 || 2 + ncond > r->argc) return failf(e, "seccomp-rule", r->argv[1], EINVAL, "bad condition count");
  struct scmp_arg_cmp conds[6];
  for (int i = 0; i < ncond; i++)
    if (parse_cond(r->argv[2 + i], &conds[i]) < 0) return failf(e, "seccomp-rule", r->argv[2 + i], EINVAL, "bad argument condition");
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
    if (rc < 0) return failf(e, "seccomp-rule", name, -rc, "libseccomp refused the rule for %s", name);
  }
  return 0;
}

int seccomp_apply(const struct security *s, struct lerr *e) {
  uint32_t def;
  if (parse_action(s->seccomp_default, &def) < 0) return failf(e, "seccomp", s->seccomp_default, EINVAL, "unknown default action");
  scmp_filter_ctx ctx AUTORELEASE = seccomp_init(def);
  if (!ctx) return fail(e, "seccomp", "init", ENOMEM);
  /* libseccomp sets no_new_privs itself unless told not to; whether it is set is the CLI's decision. */
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (rc < 0) return fail(e, "seccomp", "attribute", -rc);
  for (int i = 0; i < s->nseccomp_arches; i++) {
    uint32_t arch = seccomp_arch_resolve_name(s->seccomp_arches[i]);
    if (!arch) return failf(e, "seccomp", s->seccomp_arches[i], EINVAL, "unknown architecture");
    rc = seccomp_arch_add(ctx, arch);
    if (rc < 0 && rc != -EEXIST) return failf(e, "seccomp", s->seccomp_arches[i], -rc, "adding the architecture failed");
  }
  for (int i = 0; i < s->nseccomp_rules; i++)
    if (add_rule(ctx, def, &s->seccomp_rules[i], e) < 0) return -1;
  rc = seccomp_load(ctx);
  if (rc < 0) return failf(e, "seccomp", "load", -rc, "loading the filter into the kernel failed");
  return 0;
}
