/* lodger-helper: the container's process — a pty when asked, ids, groups, cwd, environment, fds, and exec
 * with Docker's exit codes (126 cannot invoke, 127 not found) reported back as an error record. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

struct errmsg { struct lerr e; int code; };

void send_err_and_exit(int errfd, const struct lerr *e, int code) {
  struct errmsg m;
  memset(&m, 0, sizeof m);
  m.e = *e; m.code = code;
  if (errfd >= 0) write_all(errfd, &m, sizeof m);
  _exit(code);
}

int exit_code_for_exec_errno(int err) {
  return (err == ENOENT || err == ENOTDIR || err == ELOOP) ? 127 : 126;
}

static const char *env_get(struct plan *p, const char *key) {
  size_t kl = strlen(key);
  for (int i = 0; i < p->nenv; i++)
    if (!strncmp(p->env[i], key, kl) && p->env[i][kl] == '=') return p->env[i] + kl + 1;
  return NULL;
}

/* The container's PATH, not ours, decides where argv[0] is found (execvpe(3) would use our PATH). */
static int find_executable(struct plan *p, const char *name, char *out, size_t n) {
  if (strchr(name, '/')) return (size_t)snprintf(out, n, "%s", name) >= n ? ENAMETOOLONG : 0;
  const char *path = env_get(p, "PATH");
  if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  int saw_eacces = 0;
  char *buf AUTOFREE = strdup(path);
  if (!buf) return ENOMEM;
  for (char *save = NULL, *dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
    if ((size_t)snprintf(out, n, "%s/%s", *dir ? dir : ".", name) >= n) continue;  /* longer than PATH_MAX: not there */
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(out, X_OK) == 0) return 0;
      saw_eacces = 1;
    }
  }
  return saw_eacces ? EACCES : ENOENT;
}

/* Creates a pty in the container's own devpts (so ttyname(3) is /dev/pts/N there), hands the master to
 * the supervisor over SOCK (SCM_RIGHTS), and makes the slave our controlling terminal and stdio. */
int setup_pty(struct plan *p, int sock, struct lerr *e) {
  int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return fail(e, F_OPEN, "/dev/pts/ptmx", errno);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return fail(e, F_UNLOCKPT, "/dev/pts/ptmx", errno);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) return fail(e, F_OPEN_PTY_PEER, "/dev/pts/ptmx", errno);
  if (p->winsize_rows > 0) {
    struct winsize ws = { .ws_row = (unsigned short)p->winsize_rows, .ws_col = (unsigned short)p->winsize_cols };
    ioctl(slave, TIOCSWINSZ, &ws);
  }
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  char dummy = 'm';
  struct iovec iov = { &dummy, 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &master, sizeof(int));
  if (sendmsg(sock, &msg, 0) < 0) return fail(e, F_SEND_PTY, "supervisor", errno);
  close(master);
  for (int fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) return fail(e, F_DUP2, "pty", errno);
  if (slave > 2) close(slave);
  if (ioctl(0, TIOCSCTTY, 0) < 0) return fail(e, F_SET_CONTROLLING_TTY, "pty", errno);
  return 0;
}

/* What getdents64(2) fills in (the kernel's struct linux_dirent64). */
struct dirent64_raw { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; };

/* Marks every fd from 3 up close-on-exec, so nothing of the helper's (or the CLI's) reaches the command
 * (CVE-2024-21626 class). close_range(2) does it in one call, but exists only since Linux 5.9 and takes
 * CLOSE_RANGE_CLOEXEC only since 5.11: older kernels answer ENOSYS or EINVAL and leave every fd as it
 * was, and so may an outer seccomp filter that predates the call. Any failure of it therefore falls
 * back to listing /proc/self/fd — which must be the kernel's procfs, not something a container with
 * CAP_SYS_ADMIN mounted over it — and marking the fds one by one; if that fails too, the command is
 * not started. No fd is kept open: the error pipe and the pty socket are close-on-exec already, and
 * the error pipe's end is how the supervisor learns the exec worked. */
static int cloexec_listed(int cr_err, struct lerr *e) {
  const char *why = cr_err == ENOSYS ? "this kernel has no close_range(2)"
                  : cr_err == EINVAL ? "this kernel's close_range(2) has no CLOSE_RANGE_CLOEXEC" : "close_range(2) failed";
  int dir AUTOCLOSE = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct statfs sf;
  if (dir < 0 || fstatfs(dir, &sf) < 0) return failf(e, F_CLOSE_FDS, "/proc/self/fd", errno, "%s, and /proc/self/fd could not be listed", why);
  if (sf.f_type != PROC_SUPER_MAGIC) return failf(e, F_CLOSE_FDS, "/proc/self/fd", 0, "%s, and /proc/self/fd is not the kernel's procfs", why);
  /* getdents64 into a buffer on the stack: no allocation between fork and exec. */
  char buf[4096] __attribute__((aligned(8)));
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failf(e, F_CLOSE_FDS, "/proc/self/fd", errno, "%s, and /proc/self/fd could not be listed", why);
    if (n == 0) return 0;
    for (long off = 0; off < n;) {
      const struct dirent64_raw *d = (const void *)(buf + off);
      off += d->reclen;
      char *end;
      long fd = strtol(d->name, &end, 10);
      if (*end || end == d->name || fd < 3 || fd == dir) continue;  /* ".", "..", stdio, this listing */
      int flags = fcntl((int)fd, F_GETFD);
      if (flags >= 0 && fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) == 0) continue;
      return failf(e, F_CLOSE_FDS, "/proc/self/fd", errno, "%s, and fd %ld could not be marked close-on-exec", why, fd);
    }
  }
}

static int cloexec_from_3(struct lerr *e) {
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  return cloexec_listed(errno, e);
}

/* --init: PID 1 stays ours — forwards every signal to the command and reaps orphans (tini's job).
 * pid_namespaces(7): PID 1 gets only signals it has a handler for, so handlers are installed, then
 * the signals are blocked and taken synchronously. */
static void noop_handler(int sig) { (void)sig; }

static void run_as_init(pid_t child) {
  sigset_t all;
  sigfillset(&all);
  struct sigaction sa = { .sa_handler = noop_handler };
  for (int s = 1; s < NSIG; s++) if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, NULL);
  sigprocmask(SIG_BLOCK, &all, NULL);
  int code = 0;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) { kill(child, sig); continue; }
    int st; pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
      if (w == child) {
        code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        _exit(code);  /* the kernel kills what is left of the namespace */
      }
    }
  }
}

/* setrlimit(2)'s resources by the names --ulimit uses (docker-run(1), bash's ulimit). */
static int rlimit_resource(const char *name) {
  static const struct { const char *n; int r; } t[] = {
    { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA }, { "fsize", RLIMIT_FSIZE },
    { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
    { "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
    { "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK }, { "as", RLIMIT_AS },
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) if (!strcmp(t[i].n, name)) return t[i].r;
  return -1;
}

int setup_process_and_exec(struct plan *p, int errfd) {
  struct lerr e = {0};
  if (p->cwd && chdir(p->cwd) < 0) {
    fail(&e, F_CHDIR, p->cwd, errno);
    send_err_and_exit(errfd, &e, 125);
  }
  /* A WorkingDir such as /proc/self/fd/N can land outside the root: getcwd(3) then says "(unreachable)". */
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') {
    fail(&e, F_CHDIR, p->cwd ? p->cwd : "/", EACCES);
    snprintf(e.detail, sizeof e.detail, "the working directory is outside the container's root filesystem");
    send_err_and_exit(errfd, &e, 125);
  }
  /* --ulimit: as root of the user namespace, which cannot raise a hard limit past the one it was
   * given (setrlimit(2): CAP_SYS_RESOURCE in the initial namespace) — the CLI checked that already. */
  for (int i = 0; i < p->nrlimits; i++) {
    int res = rlimit_resource(p->rlimits[i].name);
    struct rlimit rl = { (rlim_t)p->rlimits[i].soft, (rlim_t)p->rlimits[i].hard };
    if (res < 0) { failf(&e, F_SETRLIMIT, p->rlimits[i].name, EINVAL, "unknown resource"); send_err_and_exit(errfd, &e, 125); }
    if (setrlimit(res, &rl) < 0) {
      failf(&e, F_SETRLIMIT, p->rlimits[i].name, errno, "above the hard limit lodger itself runs with");
      send_err_and_exit(errfd, &e, 125);
    }
  }
  /* Bounding set and PR_SET_KEEPCAPS while still root of the namespace (caps.c). */
  if (security_before_ids(p->sec, &e) < 0) send_err_and_exit(errfd, &e, 125);
  if (!p->setgroups_deny && setgroups((size_t)p->ngroups, p->groups) < 0) {
    fail(&e, F_SETGROUPS, "", errno);
    send_err_and_exit(errfd, &e, 125);
  }
  if (setresgid(p->gid, p->gid, p->gid) < 0) {
    failf(&e, F_SETGID, "", errno, "gid %u is not mapped in the container's user namespace", p->gid);
    send_err_and_exit(errfd, &e, 125);
  }
  if (setresuid(p->uid, p->uid, p->uid) < 0) {
    failf(&e, F_SETUID, "", errno, "uid %u is not mapped in the container's user namespace", p->uid);
    send_err_and_exit(errfd, &e, 125);
  }
  if (p->nargv == 0) { fail(&e, F_EXEC, "", EINVAL); snprintf(e.detail, sizeof e.detail, "no command given"); send_err_and_exit(errfd, &e, 125); }

  char exe[PATH_MAX];
  int ferr = find_executable(p, p->argv[0], exe, sizeof exe);
  if (ferr) {
    fail(&e, F_EXEC, p->argv[0], ferr);
    send_err_and_exit(errfd, &e, exit_code_for_exec_errno(ferr));
  }
  /* Nothing of ours reaches the command: every fd above stdio is closed on exec, or there is no exec;
   * done before the seccomp filter, which might deny close_range(2). */
  if (cloexec_from_3(&e) < 0) send_err_and_exit(errfd, &e, 125);
  /* Capabilities, no_new_privs, seccomp: last, and before the --init fork so the init is confined too. */
  if (security_before_exec(p->sec, &e) < 0) send_err_and_exit(errfd, &e, 125);
  if (p->init) {
    pid_t child = fork();
    if (child < 0) { fail(&e, F_FORK, "init", errno); send_err_and_exit(errfd, &e, 125); }
    if (child > 0) { close(errfd); run_as_init(child); }
    setpgid(0, 0);
    if (isatty(0)) tcsetpgrp(0, getpid());  /* SIGTTOU is still blocked here */
  }
  /* The supervisor blocked signals for its signalfd; the command starts with none blocked. */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  execve(exe, (char *const *)p->argv, (char *const *)p->env);
  int err = errno;
  fail(&e, F_EXEC, p->argv[0], err);
  send_err_and_exit(errfd, &e, exit_code_for_exec_errno(err));
}

/* The container's first process: waits for the supervisor's go, builds the root, and execs. */
void container_init(struct plan *p, int syncfd, int errfd, int ptysock) __attribute__((noreturn));
void container_init(struct plan *p, int syncfd, int errfd, int ptysock) {
  struct lerr e = {0};
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* While the CLI attaches the network, slirp4netns/pasta must open our /proc/PID/ns files, which a
   * non-dumpable process keeps from everyone but root (proc(5)). No process of the container exists
   * yet, so be dumpable only until the go, and never again before exec. */
  if (p->wait_go) {
    prctl(PR_SET_DUMPABLE, 1);
    /* Only now may the supervisor report our pid: a network helper started on that report must find
     * us dumpable already, or opening /proc/PID/ns/user fails with EACCES (seen under load). */
    if (write(syncfd, "d", 1) != 1) _exit(125);
  }
  char go;
  if (read(syncfd, &go, 1) != 1) _exit(125);  /* the supervisor is gone */
  close(syncfd);
  prctl(PR_SET_DUMPABLE, 0);
  if (p->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) { fail(&e, F_UNSHARE, "cgroup namespace", errno); send_err_and_exit(errfd, &e, 125); }
  if (setsid() < 0) { fail(&e, F_SETSID, "", errno); send_err_and_exit(errfd, &e, 125); }
  if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) { fail(&e, F_SETHOSTNAME, p->hostname, errno); send_err_and_exit(errfd, &e, 125); }
  if (p->stdin_mode == STDIN_NULL && !p->tty) {
    int n = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (n < 0 || dup2(n, 0) < 0) { fail(&e, F_OPEN, "/dev/null", errno); send_err_and_exit(errfd, &e, 125); }
    close(n);
  }
  if (p->rootfs) {
    /* The new root must be a mount point for pivot_root(2): bind it onto itself. */
    if (mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) { fail(&e, F_BIND_ROOTFS, p->rootfs, errno); send_err_and_exit(errfd, &e, 125); }
    int rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) { fail(&e, F_OPEN, p->rootfs, errno); send_err_and_exit(errfd, &e, 125); }
    for (int i = 0; i < p->nsetup; i++)
      if (run_step(&p->setup[i], rootfd, &e) < 0) send_err_and_exit(errfd, &e, 125);
    close(rootfd);
    if (!p->no_pivot && do_pivot(p->rootfs, &e) < 0) send_err_and_exit(errfd, &e, 125);
  }
  if (p->tty && setup_pty(p, ptysock, &e) < 0) send_err_and_exit(errfd, &e, 125);
  if (ptysock >= 0) close(ptysock);
  setup_process_and_exec(p, errfd);
}
