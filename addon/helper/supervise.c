/* lodger-helper: `run` and `exec` — create (or join) the container, relay signals and the pty, wait,
 * clean up, and exit with the container's status. The CLI's death (EOF on the control fd) kills it. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <termios.h>
#include <unistd.h>

void container_init(struct plan *p, int syncfd, int errfd, int ptysock) __attribute__((noreturn));

struct errmsg { struct lerr e; int code; };

/* Signals the CLI forwards to us and we forward to the container (Docker's sig-proxy); SIGCHLD and
 * SIGWINCH are ours. SIGTSTP/SIGTTIN/SIGTTOU keep their default so job control still works. */
static void forward_set(sigset_t *s) {
  sigemptyset(s);
  int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH, SIGPIPE, SIGURG, SIGPWR, SIGSYS };
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(s, sigs[i]);
  for (int r = SIGRTMIN; r <= SIGRTMAX; r++) sigaddset(s, r);
}

static int recv_fd(int sock) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  char dummy;
  struct iovec iov = { &dummy, 1 };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
  ssize_t r;
  do r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  if (r <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static void copy_winsize(int from, int to) {
  struct winsize ws;
  if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

static int status_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

/* Waits for CHILD, relaying signals from the CLI, the pty (when MASTER >= 0) and the CLI's liveness. */
static int supervise(pid_t child, pid_t cli, int ctlfd, int master, int sfd) {
  struct termios saved;
  int raw = 0;
  if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    if (tcsetattr(0, TCSANOW, &t) == 0) raw = 1;
    copy_winsize(0, master);
  }
  int stdin_open = master >= 0;
  int status = -1;
  char buf[32768];
  while (status < 0) {
    struct pollfd fds[4];
    int n = 0, i_sig = -1, i_ctl = -1, i_master = -1, i_in = -1;
    fds[n] = (struct pollfd){ sfd, POLLIN, 0 }; i_sig = n++;
    if (ctlfd >= 0) { fds[n] = (struct pollfd){ ctlfd, POLLIN, 0 }; i_ctl = n++; }
    if (master >= 0) { fds[n] = (struct pollfd){ master, POLLIN, 0 }; i_master = n++; }
    if (stdin_open) { fds[n] = (struct pollfd){ 0, POLLIN, 0 }; i_in = n++; }
    if (poll(fds, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; break; }
    if (fds[i_sig].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
          int st; pid_t w;
          while ((w = waitpid(-1, &st, WNOHANG)) > 0) if (w == child) status = status_code(st);
        } else if (sig == SIGWINCH) {
          if (master >= 0) copy_winsize(0, master);
        } else if ((pid_t)si.ssi_pid == cli) {
          /* Only what the CLI sends: the terminal's own SIGINT reaches the CLI too, which forwards it. */
          kill(child, sig);
        }
      }
    }
    if (i_ctl >= 0 && fds[i_ctl].revents) {
      char c;
      ssize_t r = read(ctlfd, &c, 1);
      if (r <= 0) { kill(child, SIGKILL); close(ctlfd); ctlfd = -1; }
    }
    if (i_master >= 0 && fds[i_master].revents) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r > 0) write_all(1, buf, (size_t)r);
      else if (r == 0 || errno != EINTR) { close(master); master = -1; stdin_open = 0; }
    }
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0 && master >= 0) write_all(master, buf, (size_t)r);
      else if (r <= 0) stdin_open = 0;
    }
  }
  if (master >= 0) {
    /* Drain what the container wrote before it exited. */
    fcntl(master, F_SETFL, O_NONBLOCK);
    ssize_t r;
    while ((r = read(master, buf, sizeof buf)) > 0) write_all(1, buf, (size_t)r);
    close(master);
  }
  if (raw) tcsetattr(0, TCSANOW, &saved);
  return status < 0 ? 125 : status;
}

static void run_cleanup(struct plan *p) {
  for (int i = 0; i < p->ncleanup; i++) {
    struct lerr e = {0};
    if (run_step(&p->cleanup[i], -1, &e) < 0) { snprintf(e.step, sizeof e.step, "cleanup-%s", p->cleanup[i].op); report_error(&e); }
  }
}

static int join_cgroup(const char *dir, pid_t pid, struct lerr *e) {
  char path[4096], num[32];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  int fd AUTOCLOSE = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail(e, "open", path, errno);
  int n = snprintf(num, sizeof num, "%d", (int)pid);
  if (write(fd, num, (size_t)n) < 0) return fail(e, "join-cgroup", path, errno);
  return 0;
}

int cmd_run(struct plan *p, int ctlfd) {
  struct lerr e = {0};
  pid_t cli = getppid();
  sigset_t fwd;
  forward_set(&fwd);
  sigprocmask(SIG_BLOCK, &fwd, NULL);
  int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) { fail(&e, "signalfd", "", errno); report_error(&e); return 125; }

  if (userns_enter(p, &e) < 0) { report_error(&e); run_cleanup(p); return 125; }
  for (int i = 0; i < p->nprepare; i++)
    if (run_step(&p->prepare[i], -1, &e) < 0) { report_error(&e); run_cleanup(p); return 125; }

  int sync[2], errp[2], pty[2] = { -1, -1 };
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
      (p->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pty) < 0)) {
    fail(&e, "socketpair", "", errno); report_error(&e); run_cleanup(p); return 125;
  }
  /* clone(2) with a NULL stack behaves like fork(2): fine, we are single-threaded. */
  pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)(p->ns_flags | SIGCHLD), NULL, NULL, NULL, NULL);
  if (child < 0) {
    failf(&e, "clone", "container", errno, "creating the container's namespaces failed");
    report_error(&e); run_cleanup(p); return 125;
  }
  if (child == 0) {
    close(sync[0]); close(errp[0]); if (pty[0] >= 0) close(pty[0]);
    if (ctlfd >= 0) close(ctlfd);
    close(report_fd); close(sfd);
    container_init(p, sync[1], errp[1], pty[1]);
  }
  close(sync[1]); close(errp[1]); if (pty[1] >= 0) close(pty[1]);

  int code = 125;
  if (p->cgroup && join_cgroup(p->cgroup, child, &e) < 0) { report_error(&e); kill(child, SIGKILL); goto reap; }
  report_event("pid", "pid", child);
  if (p->wait_go) {
    char c = 0;
    if (ctlfd < 0 || read(ctlfd, &c, 1) != 1 || c != 'g') { kill(child, SIGKILL); goto reap; }
  }
  write_all(sync[0], "g", 1);
  close(sync[0]);
  int master = -1;
  if (p->tty) { master = recv_fd(pty[0]); close(pty[0]); }
  struct errmsg m;
  if (read_all(errp[0], &m, sizeof m) == (ssize_t)sizeof m) {
    close(errp[0]);
    report_error(&m.e);
    code = m.code;
    if (master >= 0) close(master);
    goto reap;
  }
  close(errp[0]);
  report_event("started", NULL, 0);
  code = supervise(child, cli, ctlfd, master, sfd);
  run_cleanup(p);
  report_event("exit", "code", code);
  return code;

reap:
  {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
  }
  run_cleanup(p);
  return code;
}

static const char *ns_order[] = { "user", "ipc", "uts", "net", "pid", "cgroup", "mnt" };

int cmd_exec(struct plan *p, int ctlfd) {
  struct lerr e = {0};
  pid_t cli = getppid();
  sigset_t fwd;
  forward_set(&fwd);
  sigprocmask(SIG_BLOCK, &fwd, NULL);
  int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
  char path[4096];
  /* Open every namespace and the cgroup first: after joining the mount namespace the host paths are gone. */
  int nsfd[7];
  for (int i = 0; i < 7; i++) {
    nsfd[i] = -1;
    for (int j = 0; j < p->njoin; j++) {
      if (strcmp(p->join_ns[j], ns_order[i])) continue;
      snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)p->target_pid, ns_order[i]);
      nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
      if (nsfd[i] < 0) { failf(&e, "open-namespace", path, errno, "is the container still running?"); report_error(&e); return 126; }
    }
  }
  int cgfd = -1;
  if (p->cgroup) {
    snprintf(path, sizeof path, "%s/cgroup.procs", p->cgroup);
    cgfd = open(path, O_WRONLY | O_CLOEXEC);
    if (cgfd < 0) { fail(&e, "open", path, errno); report_error(&e); return 125; }
  }
  for (int i = 0; i < 7; i++) {
    if (nsfd[i] < 0) continue;
    if (setns(nsfd[i], 0) < 0) { fail(&e, "setns", ns_order[i], errno); report_error(&e); return 125; }
    close(nsfd[i]);
  }
  int errp[2], pty[2] = { -1, -1 };
  if (pipe2(errp, O_CLOEXEC) < 0 || (p->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pty) < 0)) {
    fail(&e, "pipe", "", errno); report_error(&e); return 125;
  }
  pid_t child = fork();  /* the child is the first of us inside the container's pid namespace */
  if (child < 0) { fail(&e, "fork", "exec", errno); report_error(&e); return 125; }
  if (child == 0) {
    close(errp[0]); if (pty[0] >= 0) close(pty[0]);
    if (ctlfd >= 0) close(ctlfd);
    close(report_fd); close(sfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (cgfd >= 0 && write(cgfd, "0", 1) < 0) { fail(&e, "join-cgroup", p->cgroup, errno); send_err_and_exit(errp[1], &e, 125); }
    if (p->stdin_mode == STDIN_NULL && !p->tty) {
      int nul = open("/dev/null", O_RDONLY);
      if (nul >= 0) { dup2(nul, 0); close(nul); }
    }
    setsid();
    if (p->tty) {
      if (setup_pty(p, pty[1], &e) < 0) send_err_and_exit(errp[1], &e, 125);
      close(pty[1]);
    }
    setup_process_and_exec(p, errp[1]);
  }
  close(errp[1]); if (pty[1] >= 0) close(pty[1]);
  if (cgfd >= 0) close(cgfd);
  report_event("pid", "pid", child);
  int master = -1;
  if (p->tty) { master = recv_fd(pty[0]); close(pty[0]); }
  struct errmsg m;
  if (read_all(errp[0], &m, sizeof m) == (ssize_t)sizeof m) {
    report_error(&m.e);
    if (master >= 0) close(master);
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
    return m.code;
  }
  close(errp[0]);
  report_event("started", NULL, 0);
  int code = supervise(child, cli, ctlfd, master, sfd);
  report_event("exit", "code", code);
  return code;
}
