/* lodger-helper: reads the plan the CLI computed — NUL-separated records, each "N\0op\0arg…" — into struct plan. */
#include "helper.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_fd_fully(int fd, char **out, size_t *outlen) {
  size_t cap = 16384, len = 0;
  char *buf = malloc(cap);
  if (!buf) return -1;
  for (;;) {
    if (len == cap) {
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
  *out = buf; *outlen = len;
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

static void append_map(char *lines, char *args, size_t cap, const char **a) {
  size_t l = strlen(lines), g = strlen(args);
  snprintf(lines + l, cap - l, "%s %s %s\n", a[0], a[1], a[2]);
  snprintf(args + g, cap - g, "%s%s %s %s", g ? " " : "", a[0], a[1], a[2]);
}

int plan_read(int fd, struct plan *p, struct lerr *e) {
  memset(p, 0, sizeof *p);
  p->map_mode = "direct";
  p->newuidmap = "newuidmap";
  p->newgidmap = "newgidmap";
  p->stdin_mode = STDIN_NULL;
  if (read_fd_fully(fd, &p->buf, &p->len) < 0) return fail(e, "read-plan", "", errno);

  enum { NONE, PREPARE, SETUP, CLEANUP } phase = NONE;
  size_t off = 0;
  while (off < p->len) {
    /* Each record: a decimal count, then that many tokens (op first). */
    const char *cnt = p->buf + off;
    size_t cl = strnlen(cnt, p->len - off);
    if (off + cl >= p->len) return fail(e, "parse-plan", "truncated record", EINVAL);
    int n = atoi(cnt);
    off += cl + 1;
    if (n < 1 || n > 600) return failf(e, "parse-plan", cnt, EINVAL, "bad token count");
    const char **tok = calloc((size_t)n, sizeof *tok);
    if (!tok) return fail(e, "parse-plan", "", ENOMEM);
    for (int i = 0; i < n; i++) {
      if (off >= p->len) { free(tok); return fail(e, "parse-plan", "truncated tokens", EINVAL); }
      tok[i] = p->buf + off;
      off += strnlen(tok[i], p->len - off) + 1;
    }
    const char *op = tok[0];
    const char **a = tok + 1;
    int argc = n - 1;
    struct step st = { op, argc, a };

    if (!strcmp(op, "phase")) {
      phase = !strcmp(a[0], "prepare") ? PREPARE : !strcmp(a[0], "setup") ? SETUP : CLEANUP;
      free(tok);
    } else if (!strcmp(op, "ns")) {
      for (int i = 0; i < argc; i++) {
        if (!strcmp(a[i], "cgroup")) p->new_cgroupns = 1;
        else p->ns_flags |= ns_flag(a[i]);
      }
      free(tok);
    } else if (!strcmp(op, "map-mode")) { p->map_mode = a[0]; free(tok); }
    else if (!strcmp(op, "uidmap") && argc == 3) { append_map(p->uidmap, p->uidmap_args, sizeof p->uidmap, a); free(tok); }
    else if (!strcmp(op, "gidmap") && argc == 3) { append_map(p->gidmap, p->gidmap_args, sizeof p->gidmap, a); free(tok); }
    else if (!strcmp(op, "newuidmap")) { p->newuidmap = a[0]; free(tok); }
    else if (!strcmp(op, "newgidmap")) { p->newgidmap = a[0]; free(tok); }
    else if (!strcmp(op, "setgroups-deny")) { p->setgroups_deny = 1; free(tok); }
    else if (!strcmp(op, "rootfs")) { p->rootfs = a[0]; free(tok); }
    else if (!strcmp(op, "no-pivot")) { p->no_pivot = 1; free(tok); }
    else if (!strcmp(op, "hostname")) { p->hostname = a[0]; free(tok); }
    else if (!strcmp(op, "cgroup")) { p->cgroup = a[0]; free(tok); }
    else if (!strcmp(op, "tty")) { p->tty = 1; if (argc >= 2) { p->winsize_rows = atoi(a[0]); p->winsize_cols = atoi(a[1]); } free(tok); }
    else if (!strcmp(op, "init")) { p->init = 1; free(tok); }
    else if (!strcmp(op, "wait-go")) { p->wait_go = 1; free(tok); }
    else if (!strcmp(op, "keep-caps")) { p->keep_caps = 1; free(tok); }
    else if (!strcmp(op, "stdin")) { p->stdin_mode = !strcmp(a[0], "inherit") ? STDIN_INHERIT : STDIN_NULL; free(tok); }
    else if (!strcmp(op, "user") && argc == 2) { p->uid = (uid_t)strtoul(a[0], NULL, 10); p->gid = (gid_t)strtoul(a[1], NULL, 10); free(tok); }
    else if (!strcmp(op, "groups")) {
      for (int i = 0; i < argc && p->ngroups < 64; i++) p->groups[p->ngroups++] = (gid_t)strtoul(a[i], NULL, 10);
      free(tok);
    }
    else if (!strcmp(op, "rlimit") && argc == 3 && p->nrlimits < 16) {
      /* "unlimited" is RLIM_INFINITY; numbers as the CLI checked them */
      p->rlimits[p->nrlimits].name = a[0];
      p->rlimits[p->nrlimits].soft = !strcmp(a[1], "unlimited") ? ~0ULL : strtoull(a[1], NULL, 10);
      p->rlimits[p->nrlimits].hard = !strcmp(a[2], "unlimited") ? ~0ULL : strtoull(a[2], NULL, 10);
      p->nrlimits++;
      free(tok);
    }
    else if (!strcmp(op, "cwd")) { p->cwd = a[0]; free(tok); }
    else if (!strcmp(op, "env")) { for (int i = 0; i < argc && p->nenv < 511; i++) p->env[p->nenv++] = a[i]; free(tok); }
    else if (!strcmp(op, "argv")) { for (int i = 0; i < argc && p->nargv < 511; i++) p->argv[p->nargv++] = a[i]; free(tok); }
    else if (!strcmp(op, "detach") && argc == 1) { p->detached = 1; p->log_path = a[0]; free(tok); }
    else if (!strcmp(op, "state") && argc == 1) { p->state_path = a[0]; free(tok); }
    else if (!strcmp(op, "attach-socket") && argc == 1) { p->attach_path = a[0]; free(tok); }
    else if (!strcmp(op, "parent-userns") && argc == 1) { p->parent_userns_pid = (pid_t)atoi(a[0]); free(tok); }
    else if (!strcmp(op, "join-netns") && argc == 1) { p->join_userns_pid = p->join_netns_pid = (pid_t)atoi(a[0]); free(tok); }
    else if (!strcmp(op, "restart") && argc == 2) { p->restart_policy = a[0]; p->restart_max = atoi(a[1]); free(tok); }
    else if (!strcmp(op, "target")) { p->target_pid = (pid_t)atoi(a[0]); free(tok); }
    else if (!strcmp(op, "caps") || !strcmp(op, "no-new-privileges") || !strcmp(op, "seccomp") || !strcmp(op, "seccomp-rule") || !strcmp(op, "seccomp-cache")) {
      /* caps.c; tok stays allocated: seccomp rules point into it */
      if (security_record(&p->sec, op, argc, a, e) < 0) { free(tok); return -1; }
    }
    else if (!strcmp(op, "join")) { for (int i = 0; i < argc && p->njoin < 8; i++) p->join_ns[p->njoin++] = a[i]; free(tok); }
    else {
      /* A step: kept (tok stays allocated for the helper's short life). */
      if (phase == PREPARE && p->nprepare < 64) p->prepare[p->nprepare++] = st;
      else if (phase == SETUP && p->nsetup < 128) p->setup[p->nsetup++] = st;
      else if (phase == CLEANUP && p->ncleanup < 64) p->cleanup[p->ncleanup++] = st;
      else { free(tok); return failf(e, "parse-plan", op, EINVAL, "unknown record outside a phase, or too many steps"); }
    }
  }
  p->env[p->nenv] = NULL;
  p->argv[p->nargv] = NULL;
  return 0;
}
