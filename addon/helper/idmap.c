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
  if (fd < 0) return fail(e, "open", path, errno);
  if (write_all(fd, data, strlen(data)) < 0) return fail(e, "write", path, errno);
  return 0;
}

/* One run of newuidmap/newgidmap: its pid and the read end of the pipe that takes its stderr. */
struct map_tool { const char *tool; pid_t pid; int errfd; char pidstr[32]; };

/* Starts TOOL PID triples… without waiting for it. */
static int start_map_tool(struct map_tool *m, const char *tool, pid_t target, const char *triples, struct lerr *e) {
  char *argv[200];
  int n = 0;
  m->tool = tool;
  m->pid = -1;
  m->errfd = -1;
  snprintf(m->pidstr, sizeof m->pidstr, "%d", (int)target);
  argv[n++] = (char *)tool;
  argv[n++] = m->pidstr;
  char *copy = strdup(triples);
  if (!copy) return fail(e, "strdup", tool, ENOMEM);
  for (char *t = strtok(copy, " "); t && n < 198; t = strtok(NULL, " ")) argv[n++] = t;
  argv[n] = NULL;

  int errp[2];
  if (pipe2(errp, O_CLOEXEC) < 0) { free(copy); return fail(e, "pipe", tool, errno); }
  pid_t pid = fork();
  if (pid < 0) { free(copy); close(errp[0]); close(errp[1]); return fail(e, "fork", tool, errno); }
  if (pid == 0) {
    dup2(errp[1], 2);
    execvp(tool, argv);
    dprintf(2, "cannot execute %s: %s", tool, strerror(errno));
    _exit(127);
  }
  free(copy);
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
  return failf(e, m->tool, m->pidstr, 0, "%s", got > 0 ? out : "failed without a message");
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
    if (start_map_tool(&u, p->newuidmap, target, p->uidmap_args, e) < 0) return -1;
    int gstarted = start_map_tool(&g, p->newgidmap, target, p->gidmap_args, &ge);
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
  if (write_file(path, p->uidmap, e) < 0) return -1;
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)target);
  if (write_file(path, p->gidmap, e) < 0) return -1;
  return 0;
}

/* Without subordinate ids the helper maps only itself, which user_namespaces(7) lets a process do for its
 * own namespace (setgroups "deny" first). A mapper could not: we are not dumpable, so our /proc files
 * belong to root. */
static int map_self(struct plan *p, struct lerr *e) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
    return failf(e, "unshare", "user namespace", errno,
                 "the kernel refused to create a user namespace (see user.max_user_namespaces and "
                 "kernel.unprivileged_userns_clone)");
  /* Our /proc/self files are root's while we are not dumpable (proc(5)); nothing of the container
   * exists yet, so be dumpable just for these writes. */
  prctl(PR_SET_DUMPABLE, 1);
  int rc = 0;
  if (p->setgroups_deny && write_file("/proc/self/setgroups", "deny", e) < 0) rc = -1;
  else if (write_file("/proc/self/uid_map", p->uidmap, e) < 0) rc = -1;
  else if (write_file("/proc/self/gid_map", p->gidmap, e) < 0) rc = -1;
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
  if (fd < 0) return failf(e, "open-namespace", path, errno, "%s", hint);
  if (setns(fd, nstype) < 0) return fail(e, "setns", path, errno);
  return 0;
}

static int join_user_of(struct plan *p, struct lerr *e) {
  if (join_ns_of(p->join_userns_pid, "user", CLONE_NEWUSER, "is the container whose network is shared still running?", e) < 0) return -1;
  if (unshare(CLONE_NEWNS) < 0) return fail(e, "unshare", "mount namespace", errno);
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
  if (pipe2(go, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) return fail(e, "pipe", "idmap", errno);
  pid_t self = getpid();
  pid_t mapper = fork();
  if (mapper < 0) return fail(e, "fork", "idmap", errno);
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
    return failf(e, "unshare", "user namespace", err,
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
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return fail(e, "idmap", "mapper", ECHILD);
  return become_root(p, e);
}

static int become_root(struct plan *p, struct lerr *e) {

  /* Now root of the namespace. Drop the host's supplementary groups where setgroups is allowed. */
  if (setresgid(0, 0, 0) < 0) return fail(e, "setresgid", "0", errno);
  if (setresuid(0, 0, 0) < 0) return fail(e, "setresuid", "0", errno);
  if (!p->setgroups_deny) setgroups(0, NULL);

  /* Nothing we mount may propagate back to the host (mount_namespaces(7)). */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return fail(e, "make-rprivate", "/", errno);
  return 0;
}
