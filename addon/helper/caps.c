/* lodger-helper: the container process's privileges — capability sets, no_new_privs, and the order in which
 * they and the seccomp filter are applied around the id change and before execve. */
#include "helper.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* "4,7,21" → a bit mask; an empty token is the empty set. */
static int parse_capset(const char *csv, uint64_t *out, struct lerr *e) {
  *out = 0;
  for (const char *s = csv; *s;) {
    char *end;
    unsigned long c = strtoul(s, &end, 10);
    if (end == s || c > 63 || (*end && *end != ',')) return failf(e, F_PARSE_PLAN, csv, EINVAL, "bad capability list");
    *out |= 1ULL << c;
    s = *end ? end + 1 : end;
  }
  return 0;
}

/* The security records of the plan (steps.def), their argument counts and kinds already checked by plan.c. */
int security_record(struct security **sp, const struct step *r, struct lerr *e) {
  if (!*sp && !(*sp = calloc(1, sizeof **sp))) return fail(e, F_PARSE_PLAN, r->op, ENOMEM);
  struct security *s = *sp;
  const char **a = r->argv;
  switch (r->id) {
    case R_CAPS: {
      /* caps BOUNDING EFFECTIVE PERMITTED INHERITABLE AMBIENT */
      uint64_t *sets[5] = { &s->bounding, &s->effective, &s->permitted, &s->inheritable, &s->ambient };
      for (int i = 0; i < 5; i++)
        if (parse_capset(a[i], sets[i], e) < 0) return -1;
      s->have_caps = 1;
      return 0;
    }
    case R_NO_NEW_PRIVILEGES: s->no_new_privs = 1; return 0;
    case R_SECCOMP_CACHE: s->seccomp_cache = a[0]; return 0;
    case R_SECCOMP:
      /* seccomp DEFAULT_ACTION ARCH… */
      s->seccomp_default = a[0];
      s->seccomp_arches = a + 1;
      s->nseccomp_arches = r->argc - 1;
      return 0;
    case R_SECCOMP_RULE:
      if (s->nseccomp_rules == s->cap_seccomp_rules) {
        int cap = s->cap_seccomp_rules ? s->cap_seccomp_rules * 2 : 64;
        struct step *n = realloc(s->seccomp_rules, (size_t)cap * sizeof *n);
        if (!n) return fail(e, F_PARSE_PLAN, r->op, ENOMEM);
        s->seccomp_rules = n;
        s->cap_seccomp_rules = cap;
      }
      s->seccomp_rules[s->nseccomp_rules++] = *r;
      return 0;
    default:
      return failf(e, F_PARSE_PLAN, r->op, EINVAL, "not a security record");
  }
}

/* The capabilities this kernel knows: PR_CAPBSET_READ fails with EINVAL past the last one (prctl(2)). */
static uint64_t known_caps(void) {
  uint64_t m = 0;
  for (int c = 0; c < 64 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++) m |= 1ULL << c;
  return m;
}

static int cap_get(uint64_t *eff, uint64_t *perm, uint64_t *inh) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) < 0) return -1;
  *eff = d[0].effective | ((uint64_t)d[1].effective << 32);
  *perm = d[0].permitted | ((uint64_t)d[1].permitted << 32);
  *inh = d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
  return 0;
}

static int cap_set(uint64_t eff, uint64_t perm, uint64_t inh) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2] = {
    { (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
    { (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
  };
  return (int)syscall(SYS_capset, &h, d);
}

/* Before setgroups/setresgid/setresuid, while we are still root of the user namespace with every capability:
 * the bounding set can only be lowered with CAP_SETPCAP (capabilities(7)), and PR_SET_KEEPCAPS keeps the
 * permitted set across the change to a non-zero uid, so the sets chosen for that user can still be set. */
int security_before_ids(const struct security *s, struct lerr *e) {
  if (!s || !s->have_caps) return 0;
  uint64_t known = known_caps();
  for (int c = 0; c < 64; c++) {
    if (!(known & (1ULL << c)) || (s->bounding & (1ULL << c))) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
      char num[16];
      snprintf(num, sizeof num, "%d", c);
      return fail(e, F_DROP_CAPABILITY, num, errno);
    }
  }
  /* Nothing of ours may be inherited as an ambient capability (none is set by default; be certain). */
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return fail(e, F_CLEAR_AMBIENT_CAPABILITIES, "", errno);
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return fail(e, F_KEEP_CAPABILITIES, "", errno);
  return 0;
}

static int set_final_caps(const struct security *s, struct lerr *e) {
  uint64_t known = known_caps();
  uint64_t perm = s->permitted & known, eff = s->effective & perm, inh = s->inheritable & known;
  if (cap_set(eff, perm, inh) < 0)
    return failf(e, F_SET_CAPABILITIES, "", errno, "effective %#llx permitted %#llx inheritable %#llx",
                 (unsigned long long)eff, (unsigned long long)perm, (unsigned long long)inh);
  /* An ambient capability must be permitted and inheritable (PR_CAP_AMBIENT_RAISE in prctl(2)). */
  for (int c = 0; c < 64; c++) {
    if (!(s->ambient & known & perm & inh & (1ULL << c))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
      char num[16];
      snprintf(num, sizeof num, "%d", c);
      return fail(e, F_RAISE_AMBIENT_CAPABILITY, num, errno);
    }
  }
  return 0;
}

/* Last thing before execve(2) (and before the --init fork, so the init is confined too). seccomp(2) loads a
 * filter only for a process with no_new_privs or CAP_SYS_ADMIN in its user namespace. With no_new_privs the
 * final capabilities go first and the filter last; without it the filter is loaded while CAP_SYS_ADMIN is
 * still effective and the final capset(2) runs under it — which every profile must therefore allow. */
int security_before_exec(const struct security *s, struct lerr *e) {
  if (!s) return 0;
  if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return fail(e, F_NO_NEW_PRIVILEGES, "", errno);
  int filter = s->seccomp_default != NULL;
  if (!filter || s->no_new_privs) {
    if (s->have_caps && set_final_caps(s, e) < 0) return -1;
    return filter ? seccomp_apply(s, e) : 0;
  }
  /* After setresuid(2) to a non-zero uid the effective set is empty even with PR_SET_KEEPCAPS: raise it
   * to the permitted set for the load. */
  uint64_t eff, perm, inh;
  if (cap_get(&eff, &perm, &inh) < 0) return fail(e, F_GET_CAPABILITIES, "", errno);
  if (eff != perm && cap_set(perm, perm, inh) < 0) return fail(e, F_SET_CAPABILITIES, "", errno);
  if (seccomp_apply(s, e) < 0) return -1;
  if (s->have_caps && set_final_caps(s, e) < 0) {
    snprintf(e->detail, sizeof e->detail, "capset(2) failed after the seccomp profile was loaded: the profile must allow capset");
    return -1;
  }
  return 0;
}
