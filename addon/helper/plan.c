/* lodger-helper: reads the plan the CLI computed — NUL-separated records "N\0op\0arg…\0", each checked against
 * steps.def (its name, argument count and argument kinds) — into struct plan. Every list is sized from the
 * plan itself: how many arguments, variables, groups, id-map lines or steps a plan may hold is the kernel's
 * business (ARG_MAX, NGROUPS_MAX, the 340 lines of an id map), not a constant here. */
#include "helper.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Each record's name, argument kinds (see steps.def) and whether it is a step run in a phase. */
static const struct record_def { const char *name; const char *kinds; int is_step; } records[R_COUNT] = {
#define SETTING(id, name, kinds) [R_##id] = { name, kinds, 0 },
#define STEP(id, name, kinds) [R_##id] = { name, kinds, 1 },
#define FAILURE(id, name)
#include "steps.def"
#undef SETTING
#undef STEP
#undef FAILURE
};

const char *record_name(enum record_id id) { return (unsigned)id < R_COUNT ? records[id].name : "?"; }

static int read_fd_fully(int fd, char **out, size_t *outlen) {
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  if (!buf) return -1;
  for (;;) {
    if (len == cap) {
      if (cap > SIZE_MAX / 2) { free(buf); errno = EFBIG; return -1; }
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) { free(buf); return -1; }
      buf = nb;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0) { if (errno == EINTR) continue; free(buf); return -1; }
    if (r == 0) break;
    len += (size_t)r;
  }
  /* Exactly the plan's bytes: a read past its end is then past the allocation (and AddressSanitizer's to see). */
  char *exact = realloc(buf, len ? len : 1);
  *out = exact ? exact : buf; *outlen = len;
  return 0;
}

/* Makes room for MORE elements of SIZE after *N in *ARR (capacity *CAP), doubling. */
static int grow(void *arr, int *n, int *cap, size_t more, size_t size, struct lerr *e) {
  void **a = arr;
  if ((size_t)*n + more <= (size_t)*cap) return 0;
  size_t want = *cap ? (size_t)*cap : 16;
  while (want < (size_t)*n + more) want *= 2;
  if (want > INT_MAX) return failf(e, F_PARSE_PLAN, "", E2BIG, "the plan holds more than %d entries in one list", INT_MAX);
  void *na = reallocarray(*a, want, size);
  if (!na) return fail(e, F_PARSE_PLAN, "", ENOMEM);
  *a = na;
  *cap = (int)want;
  return 0;
}

/* Appends the ARGC strings of A to the list *ARR. */
static int append_strs(const char ***arr, int *n, int *cap, int argc, const char **a, struct lerr *e) {
  if (grow(arr, n, cap, (size_t)argc, sizeof **arr, e) < 0) return -1;
  memcpy(*arr + *n, a, (size_t)argc * sizeof *a);
  *n += argc;
  return 0;
}

static int ns_flag(const char *name) {
  if (!strcmp(name, "mnt")) return CLONE_NEWNS;
  if (!strcmp(name, "pid")) return CLONE_NEWPID;
  if (!strcmp(name, "uts")) return CLONE_NEWUTS;
  if (!strcmp(name, "ipc")) return CLONE_NEWIPC;
  if (!strcmp(name, "net")) return CLONE_NEWNET;
  return 0;
}

/* A decimal number of at most 10 digits up to UINT32_MAX (ids, pids, counts), nothing else. */
static int is_number(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 10 || strspn(s, "0123456789") != n) return 0;
  return strtoull(s, NULL, 10) <= UINT32_MAX;
}

static int is_mode(const char *s) {
  size_t n = strlen(s);
  return n > 0 && n <= 5 && strspn(s, "01234567") == n && strtoul(s, NULL, 8) <= 07777;
}

static int is_flags(const char *s) {
  unsigned long f; int ro, rec;
  return parse_mount_flags(s, &f, &ro, &rec) == 0;
}

static const char *kind_name(char k) {
  switch (k) {
    case 'i': return "a decimal number";
    case 'o': return "an octal mode";
    case 'f': return "a list of mount flags";
    default: return "a string";
  }
}

/* The argument count and kinds of record D (steps.def's grammar: one letter per argument, a trailing '*'
 * or '+' repeats the last one). */
static int check_args(const struct record_def *d, int argc, const char **a, struct lerr *e) {
  size_t nk = strlen(d->kinds);
  char rep = nk && (d->kinds[nk - 1] == '*' || d->kinds[nk - 1] == '+') ? d->kinds[--nk] : 0;
  size_t min = rep == '*' ? nk - 1 : nk;
  if ((size_t)argc < min || (!rep && (size_t)argc > nk))
    return failf(e, F_PARSE_PLAN, d->name, EINVAL, "wrong argument count: %d, expected %s%zu", argc, rep ? "at least " : "", min);
  for (int i = 0; i < argc; i++) {
    char k = (size_t)i < nk ? d->kinds[i] : d->kinds[nk - 1];
    int ok = k == 'i' ? is_number(a[i]) : k == 'o' ? is_mode(a[i]) : k == 'f' ? is_flags(a[i]) : 1;
    if (!ok) return failf(e, F_PARSE_PLAN, d->name, EINVAL, "argument %d (\"%.64s\") is not %s", i + 1, a[i], kind_name(k));
  }
  return 0;
}

static int lookup(const char *name) {
  for (int i = 0; i < R_COUNT; i++) if (!strcmp(records[i].name, name)) return i;
  return -1;
}

static unsigned long num(const char *s) { return strtoul(s, NULL, 10); }

enum phase { NONE, PREPARE, SETUP, CLEANUP };

/* Applies one checked record to P. Returns 1 when R (its token array) must stay allocated, 0 when it may
 * be freed, -1 on error. */
static int apply(struct plan *p, enum phase *phase, const struct step *r, struct lerr *e) {
  const char **a = r->argv;
  int argc = r->argc;
  switch (r->id) {
    case R_PHASE:
      if (!strcmp(a[0], "prepare")) *phase = PREPARE;
      else if (!strcmp(a[0], "setup")) *phase = SETUP;
      else if (!strcmp(a[0], "cleanup")) *phase = CLEANUP;
      else return failf(e, F_PARSE_PLAN, r->op, EINVAL, "unknown phase \"%.64s\"", a[0]);
      return 0;
    case R_NS:
      for (int i = 0; i < argc; i++) {
        if (!strcmp(a[i], "cgroup")) p->new_cgroupns = 1;
        else if (ns_flag(a[i])) p->ns_flags |= ns_flag(a[i]);
        else return failf(e, F_PARSE_PLAN, r->op, EINVAL, "unknown namespace \"%.64s\"", a[i]);
      }
      return 0;
    case R_MAP_MODE:
      if (strcmp(a[0], "helper") && strcmp(a[0], "direct")) return failf(e, F_PARSE_PLAN, r->op, EINVAL, "unknown mode \"%.64s\"", a[0]);
      p->map_mode = a[0];
      return 0;
    case R_UIDMAP: return append_strs(&p->uidmap, &p->nuidmap, &p->cap_uidmap, 3, a, e);
    case R_GIDMAP: return append_strs(&p->gidmap, &p->ngidmap, &p->cap_gidmap, 3, a, e);
    case R_NEWUIDMAP: p->newuidmap = a[0]; return 0;
    case R_NEWGIDMAP: p->newgidmap = a[0]; return 0;
    case R_SETGROUPS_DENY: p->setgroups_deny = 1; return 0;
    case R_ROOTFS: p->rootfs = a[0]; return 0;
    case R_NO_PIVOT: p->no_pivot = 1; return 0;
    case R_HOSTNAME: p->hostname = a[0]; return 0;
    case R_CGROUP: p->cgroup = a[0]; return 0;
    case R_TTY: p->tty = 1; p->winsize_rows = (int)(num(a[0]) & 0xffff); p->winsize_cols = (int)(num(a[1]) & 0xffff); return 0;
    case R_INIT: p->init = 1; return 0;
    case R_WAIT_GO: p->wait_go = 1; return 0;
    case R_STDIN:
      if (!strcmp(a[0], "inherit")) p->stdin_mode = STDIN_INHERIT;
      else if (!strcmp(a[0], "null")) p->stdin_mode = STDIN_NULL;
      else return failf(e, F_PARSE_PLAN, r->op, EINVAL, "unknown mode \"%.64s\"", a[0]);
      return 0;
    case R_USER: p->uid = (uid_t)num(a[0]); p->gid = (gid_t)num(a[1]); return 0;
    case R_GROUPS:
      if (grow(&p->groups, &p->ngroups, &p->cap_groups, (size_t)argc, sizeof *p->groups, e) < 0) return -1;
      for (int i = 0; i < argc; i++) p->groups[p->ngroups++] = (gid_t)num(a[i]);
      return 0;
    case R_RLIMIT:
      if (p->nrlimits >= 16) return failf(e, F_PARSE_PLAN, r->op, E2BIG, "more than 16 limits");
      /* "unlimited" is RLIM_INFINITY; numbers as the CLI checked them */
      p->rlimits[p->nrlimits].name = a[0];
      p->rlimits[p->nrlimits].soft = !strcmp(a[1], "unlimited") ? ~0ULL : strtoull(a[1], NULL, 10);
      p->rlimits[p->nrlimits].hard = !strcmp(a[2], "unlimited") ? ~0ULL : strtoull(a[2], NULL, 10);
      p->nrlimits++;
      return 0;
    case R_LOG_MAX: p->log_max_size = num(a[0]); p->log_max_files = (int)(num(a[1]) & 0xff); return 0;
    case R_CWD: p->cwd = a[0]; return 0;
    case R_ENV: return append_strs(&p->env, &p->nenv, &p->cap_env, argc, a, e);
    case R_ARGV: return append_strs(&p->argv, &p->nargv, &p->cap_argv, argc, a, e);
    case R_DETACH: p->detached = 1; p->log_path = a[0]; return 0;
    case R_STATE: p->state_path = a[0]; return 0;
    case R_ATTACH_SOCKET: p->attach_path = a[0]; return 0;
    case R_PARENT_USERNS: p->parent_userns_pid = (pid_t)num(a[0]); return 0;
    case R_JOIN_NETNS: p->join_userns_pid = p->join_netns_pid = (pid_t)num(a[0]); return 0;
    /* --pid/--ipc container:X: X's user namespace too, whose CAP_SYS_ADMIN setns(2) needs */
    case R_JOIN_PIDNS: p->join_userns_pid = p->join_pidns_pid = (pid_t)num(a[0]); return 0;
    case R_JOIN_IPCNS: p->join_userns_pid = p->join_ipcns_pid = (pid_t)num(a[0]); return 0;
    case R_RESTART: p->restart_policy = a[0]; p->restart_max = (int)(num(a[1]) & INT_MAX); return 0;
    case R_TARGET: p->target_pid = (pid_t)num(a[0]); return 0;
    case R_JOIN:
      for (int i = 0; i < argc; i++)
        if (strcmp(a[i], "user") && strcmp(a[i], "cgroup") && !ns_flag(a[i]))
          return failf(e, F_PARSE_PLAN, r->op, EINVAL, "unknown namespace \"%.64s\"", a[i]);
      return append_strs(&p->join_ns, &p->njoin, &p->cap_join, argc, a, e);
    case R_CAPS: case R_NO_NEW_PRIVILEGES: case R_SECCOMP: case R_SECCOMP_RULE: case R_SECCOMP_CACHE:
      /* caps.c; the tokens stay: seccomp rules point into them */
      return security_record(&p->sec, r, e) < 0 ? -1 : 1;
    default: break;
  }
  /* A step: kept in its phase's list (its tokens stay for the helper's short life). */
  struct step **list; int *n, *cap;
  switch (*phase) {
    case PREPARE: list = &p->prepare; n = &p->nprepare; cap = &p->cap_prepare; break;
    case SETUP: list = &p->setup; n = &p->nsetup; cap = &p->cap_setup; break;
    case CLEANUP: list = &p->cleanup; n = &p->ncleanup; cap = &p->cap_cleanup; break;
    default: return failf(e, F_PARSE_PLAN, r->op, EINVAL, "a step outside a phase");
  }
  if (grow(list, n, cap, 1, sizeof **list, e) < 0) return -1;
  (*list)[(*n)++] = *r;
  return 1;
}

int plan_decode(char *buf, size_t len, struct plan *p, struct lerr *e) {
  memset(p, 0, sizeof *p);
  p->buf = buf;
  p->len = len;
  p->map_mode = "direct";
  p->newuidmap = "newuidmap";
  p->newgidmap = "newgidmap";
  p->stdin_mode = STDIN_NULL;
  enum phase phase = NONE;
  size_t off = 0;
  while (off < len) {
    /* Each record: a decimal count, then that many tokens (op first), every one ending in NUL. */
    const char *cnt = buf + off;
    size_t cl = strnlen(cnt, len - off);
    if (cl == len - off) return fail(e, F_PARSE_PLAN, "truncated record", EINVAL);
    off += cl + 1;
    /* Every token takes at least its NUL: a count beyond the bytes left is a lie, not an allocation. */
    if (!is_number(cnt) || num(cnt) < 1 || num(cnt) > len - off)
      return failf(e, F_PARSE_PLAN, "", EINVAL, "bad token count \"%.32s\" (%zu bytes left in the plan)", cnt, len - off);
    int n = (int)num(cnt);
    const char **tok = calloc((size_t)n, sizeof *tok);
    if (!tok) return fail(e, F_PARSE_PLAN, "", ENOMEM);
    for (int i = 0; i < n; i++) {
      size_t tl = strnlen(buf + off, len - off);
      if (tl == len - off) { free(tok); return fail(e, F_PARSE_PLAN, "truncated token", EINVAL); }
      tok[i] = buf + off;
      off += tl + 1;
    }
    int id = lookup(tok[0]);
    if (id < 0) { int rc = failf(e, F_PARSE_PLAN, tok[0], EINVAL, "unknown record"); free(tok); return rc; }
    struct step r = { (enum record_id)id, records[id].name, n - 1, tok + 1 };
    int kept = check_args(&records[id], r.argc, r.argv, e);
    if (kept == 0) kept = apply(p, &phase, &r, e);
    if (kept == 1 && grow(&p->held, &p->nheld, &p->cap_held, 1, sizeof *p->held, e) < 0) kept = -1;
    if (kept == 1) p->held[p->nheld++] = tok;
    else free(tok);
    if (kept < 0) return -1;
  }
  /* execve(2) takes NULL-terminated lists. */
  if (grow(&p->env, &p->nenv, &p->cap_env, 1, sizeof *p->env, e) < 0 ||
      grow(&p->argv, &p->nargv, &p->cap_argv, 1, sizeof *p->argv, e) < 0) return -1;
  p->env[p->nenv] = NULL;
  p->argv[p->nargv] = NULL;
  return 0;
}

void plan_free(struct plan *p) {
  for (int i = 0; i < p->nheld; i++) free(p->held[i]);
  free(p->held);
  free(p->uidmap); free(p->gidmap); free(p->groups); free(p->env); free(p->argv);
  free(p->prepare); free(p->setup); free(p->cleanup); free(p->join_ns);
  if (p->sec) { free(p->sec->seccomp_rules); free(p->sec->bpf); free(p->sec); }
  free(p->buf);
  memset(p, 0, sizeof *p);
}

int plan_read(int fd, struct plan *p, struct lerr *e) {
  char *buf; size_t len;
  memset(p, 0, sizeof *p);
  if (read_fd_fully(fd, &buf, &len) < 0) return fail(e, F_READ_PLAN, "", errno);
  return plan_decode(buf, len, p, e);
}

static void json_list(FILE *f, const char *key, const char **items, int n) {
  fprintf(f, ",\"%s\":[", key);
  for (int i = 0; i < n; i++) {
    fputs(i ? ",\"" : "\"", f);
    for (const char *s = items[i]; *s; s++) {
      unsigned char c = (unsigned char)*s;
      if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
      else if (c < 0x20) fprintf(f, "\\u%04x", c);
      else fputc(c, f);
    }
    fputc('"', f);
  }
  fputc(']', f);
}

static void json_steps(FILE *f, const char *key, const struct step *s, int n) {
  fprintf(f, ",\"%s\":[", key);
  for (int i = 0; i < n; i++) fprintf(f, "%s[\"%s\",%d]", i ? "," : "", s[i].op, s[i].argc);
  fputc(']', f);
}

void plan_summary(const struct plan *p) {
  fprintf(stdout, "{\"nsFlags\":%d,\"uid\":%u,\"gid\":%u,\"tty\":%d,\"rows\":%d,\"cols\":%d", p->ns_flags, (unsigned)p->uid,
          (unsigned)p->gid, p->tty, p->winsize_rows, p->winsize_cols);
  fprintf(stdout, ",\"groups\":[");
  for (int i = 0; i < p->ngroups; i++) fprintf(stdout, "%s%u", i ? "," : "", (unsigned)p->groups[i]);
  fputc(']', stdout);
  json_list(stdout, "argv", p->argv, p->nargv);
  json_list(stdout, "env", p->env, p->nenv);
  json_list(stdout, "uidmap", p->uidmap, p->nuidmap);
  json_list(stdout, "gidmap", p->gidmap, p->ngidmap);
  json_list(stdout, "join", p->join_ns, p->njoin);
  json_steps(stdout, "prepare", p->prepare, p->nprepare);
  json_steps(stdout, "setup", p->setup, p->nsetup);
  json_steps(stdout, "cleanup", p->cleanup, p->ncleanup);
  fprintf(stdout, ",\"seccompRules\":%d}\n", p->sec ? p->sec->nseccomp_rules : 0);
  fflush(stdout);
}
