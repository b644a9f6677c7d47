/* lodger-helper: enter a new user+mount namespace and get its id maps written from outside it.
 *
 * user_namespaces(7): a process cannot write more than a single-id map for itself, so a child that
 * stays in the parent namespace (the "mapper") writes them — through the setuid newuidmap(1)/
 * newgidmap(1), which check /etc/subuid and /etc/subgid, or directly when the caller is root or maps
 * only itself. The helper waits for the mapper before doing anything as root of the namespace. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_file(const char *path, const char *data, struct lerr *e) {
  int fd AUTOCLOSE = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(e, F_OPEN, path, errno);
  if (write_all(fd, data, strlen(data)) < 0) return fail(e, F_WRITE, path, errno);
  return 0;
}

static char *map_text(const char **tok, int ntok);

/* An id map file written in one write(2), as the kernel requires (user_namespaces(7)). */
static int write_map(const char *path, const char **tok, int ntok, struct lerr *e) {
  char *text AUTOFREE = map_text(tok, ntok);
  if (!text) return fail(e, F_WRITE, path, ENOMEM);
  return write_file(path, text, e);
}

/* One run of newuidmap/newgidmap: its pid and the read end of the pipe that takes its stderr. */
struct map_tool { const char *step; pid_t pid; int errfd; char pidstr[32]; };

/* The lines of an id map file, "in out count\n" each (user_namespaces(7)), from NTOK tokens (3 per line). */
static char *map_text(const char **tok, int ntok) {
  size_t len = 1;
  for (int i = 0; i < ntok; i++) len += strlen(tok[i]) + 1;
  char *out = malloc(len), *at = out;
  if (!out) return NULL;
  for (int i = 0; i < ntok; i++) at += sprintf(at, "%s%c", tok[i], i % 3 == 2 ? '\n' : ' ');
  *at = 0;
  return out;
}

/* Starts TOOL PID in out count… (newuidmap(1)) without waiting for it; STEP names it in a failure. */
static int start_map_tool(struct map_tool *m, const char *step, const char *tool, pid_t target, const char **tok, int ntok, struct lerr *e) {
  m->step = step;
  m->pid = -1;
  m->errfd = -1;
  snprintf(m->pidstr, sizeof m->pidstr, "%d", (int)target);
  const char **argv AUTOFREE = calloc((size_t)ntok + 3, sizeof *argv);
  if (!argv) return fail(e, step, tool, ENOMEM);
  argv[0] = tool;
  argv[1] = m->pidstr;
  memcpy(argv + 2, tok, (size_t)ntok * sizeof *tok);

  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) return fail(e, F_PIPE, tool, errno);
  pid_t pid = fork();
  if (pid < 0) { close(errp[0]); close(errp[1]); return fail(e, F_FORK, tool, errno); }
  if (pid == 0) {
    dup2(errp[1], 2);
    execvp(tool, (char *const *)argv);
    dprintf(2, "cannot execute %s: %s", tool, strerror(errno));
    _exit(127);
  }
  close(errp[1]);
  m->pid = pid;
  m->errfd = errp[0];
  return 0;
}

/* Waits for a started tool, capturing its stderr into e->detail on failure. */
static int finish_map_tool(struct map_tool *m, struct lerr *e) {
  char out[400] = {0};
  ssize_t got = read_all(m->errfd, out, sizeof out - 1);
  close(m->errfd);
  int st;
  while (waitpid(m->pid, &st, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (got > 0) { out[got] = 0; char *nl = strrchr(out, '\n'); if (nl && nl[1] == 0) *nl = 0; }
  return failf(e, m->step, m->pidstr, 0, "%s", got > 0 ? out : "failed without a message");
}

static int become_root(struct plan *p, struct lerr *e);
static int userns_enter_maps(struct plan *p, struct lerr *e);

static int mapper_main(struct plan *p, pid_t target, struct lerr *e) {
  char path[64];
  if (!strcmp(p->map_mode, "helper")) {
    /* Both at once: each is a setuid program that loads its libraries and reads /etc/sub[ug]id, and
     * they write different files (uid_map; gid_map and setgroups). A failure of newuidmap is the one
     * reported when both fail. */
    struct map_tool u, g;
    struct lerr ge = {0};
    if (start_map_tool(&u, F_NEWUIDMAP, p->newuidmap, target, p->uidmap, p->nuidmap, e) < 0) return -1;
    int gstarted = start_map_tool(&g, F_NEWGIDMAP, p->newgidmap, target, p->gidmap, p->ngidmap, &ge);
    int urc = finish_map_tool(&u, e);
    if (gstarted < 0) { if (urc == 0) *e = ge; return -1; }
    int grc = finish_map_tool(&g, &ge);
    if (urc < 0) return -1;
    if (grc < 0) { *e = ge; return -1; }
    return 0;
  }
  /* Direct: the kernel requires setgroups "deny" before an unprivileged gid_map write. */
  if (p->setgroups_deny) {
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)target);
    if (write_file(path, "deny", e) < 0) return -1;
  }
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)target);
  if (write_map(path, p->uidmap, p->nuidmap, e) < 0) return -1;
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)target);
  return write_map(path, p->gidmap, p->ngidmap, e);
}

/* Without subordinate ids the helper maps only itself, which user_namespaces(7) lets a process do for its
 * own namespace (setgroups "deny" first). A mapper could not: we are not dumpable, so our /proc files
 * belong to root. */
static int map_self(struct plan *p, struct lerr *e) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    return failf(e, F_UNSHARE, "user namespace", errno,
                 "the kernel refused to create a user namespace (see user.max_user_namespaces and "
                 "kernel.unprivileged_userns_clone)");
  /* Our /proc/self files are root's while we are not dumpable (proc(5)); nothing of the container
   * exists yet, so be dumpable just for these writes. */
  prctl(PR_SET_DUMPABLE, 1);
  int rc = 0;
  if (p->setgroups_deny && write_file("/proc/self/setgroups", "deny", e) < 0) rc = -1;
  else if (write_map("/proc/self/uid_map", p->uidmap, p->nuidmap, e) < 0) rc = -1;
  else if (write_map("/proc/self/gid_map", p->gidmap, p->ngidmap, e) < 0) rc = -1;
  prctl(PR_SET_DUMPABLE, 0);
  return rc;
}

/* --network container:X: X's network namespace is owned by X's user namespace, and only a process with
 * CAP_SYS_ADMIN there may join it (setns(2)); so the new container joins X's user namespace too (the
 * same user's, with the same maps) and gets a mount namespace of its own in it. */
/* Joins the NS namespace (a /proc/PID/ns name) of PID; HINT is what the user is told when PID is gone. */
int join_ns_of(pid_t pid, const char *ns, int nstype, const char *hint, struct lerr *e) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns);
  int fd AUTOCLOSE = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failf(e, F_OPEN_NAMESPACE, path, errno, "%s", hint);
  if (setns(fd, nstype) < 0) return fail(e, F_SETNS, path, errno);
  return 0;
}

static int join_user_of(struct plan *p, struct lerr *e) {
  if (join_ns_of(p->join_userns_pid, "user", CLONE_NEWUSER, "is the container whose namespaces are shared still running?", e) < 0) return -1;
  if (unshare(CLONE_NEWNS) < 0) return fail(e, F_UNSHARE, "mount namespace", errno);
  return become_root(p, e);
}

/* A user network's veths are made from lodger's infra user namespace, which may add links only to
 * network namespaces owned by its descendants (user_namespaces(7)): the container's user namespace is
 * created inside it. We are root there, so the mapper writes the maps itself; it can open our /proc
 * files only while we are dumpable (no container process exists yet). */
static int enter_parent_userns(struct plan *p, struct lerr *e) {
  if (join_ns_of(p->parent_userns_pid, "user", CLONE_NEWUSER, "the user network's infra namespace is gone; run the container again", e) < 0) return -1;
  prctl(PR_SET_DUMPABLE, 1);
  return 0;
}

int userns_enter(struct plan *p, struct lerr *e) {
  if (p->join_userns_pid > 0) return join_user_of(p, e);
  if (p->parent_userns_pid > 0) {
    if (enter_parent_userns(p, e) < 0) return -1;
    int rc = userns_enter_maps(p, e);
    prctl(PR_SET_DUMPABLE, 0);
    return rc;
  }
  return userns_enter_maps(p, e);
}

static int userns_enter_maps(struct plan *p, struct lerr *e) {
  if (!strcmp(p->map_mode, "direct") && getuid() != 0) {
    if (map_self(p, e) < 0) return -1;
    return become_root(p, e);
  }
  int go[2], res[2];
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) return fail(e, F_PIPE, "idmap", errno);
  pid_t self = getpid();
  pid_t mapper = fork();
  if (mapper < 0) return fail(e, F_FORK, "idmap", errno);
  if (mapper == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(go[1]); close(res[0]);
    char b;
    if (read(go[0], &b, 1) != 1) _exit(1);  /* the helper failed to unshare */
    struct lerr me = {0};
    if (mapper_main(p, self, &me) < 0) { write_all(res[1], &me, sizeof me); _exit(1); }
    _exit(0);
  }
  close(go[0]); close(res[1]);
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
    int err = errno;
    close(go[1]); close(res[0]);
    waitpid(mapper, NULL, 0);
    return failf(e, F_UNSHARE, "user namespace", err,
                 "the kernel refused to create a user namespace (see user.max_user_namespaces and "
                 "kernel.unprivileged_userns_clone)");
  }
  write_all(go[1], "g", 1);
  close(go[1]);
  struct lerr me = {0};
  ssize_t got = read_all(res[0], &me, sizeof me);
  close(res[0]);
  int st;
  while (waitpid(mapper, &st, 0) < 0 && errno == EINTR) {}
  if (got == (ssize_t)sizeof me) { *e = me; return -1; }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return fail(e, F_IDMAP, "mapper", ECHILD);
  return become_root(p, e);
}

static int become_root(struct plan *p, struct lerr *e) {

  /* Now root of the namespace. Drop the host's supplementary groups where setgroups is allowed. */
  if (setresgid(0, 0, 0) < 0) return fail(e, F_SETRESGID, "0", errno);
  if (setresuid(0, 0, 0) < 0) return fail(e, F_SETRESUID, "0", errno);
  if (!p->setgroups_deny) setgroups(0, NULL);

  /* Nothing we mount may propagate back to the host (mount_namespaces(7)). */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail(e, F_MAKE_RPRIVATE, "/", errno);
  return 0;
}
