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

/* The terminal a foreground run or exec is shown on: stdin's with -i, else stdout's (-t alone), or -1. */
static int user_terminal(int interactive) {
  if (interactive && isatty(0)) return 0;
  return isatty(1) ? 1 : -1;
}

/* Our terminal hung up (ssh dropped, window closed, tmux kill-session: tty_hangup in the kernel, seen as
 * POLLHUP, or as a read of 0 in raw mode, where ^D is a byte like any other). The container learns it
 * as a process on that terminal would: its own terminal hangs up too — closing the pty's master makes
 * the kernel send SIGHUP to the slave's session leader and return EOF/EIO to its reads (pty(7),
 * credentials(7) on controlling terminals) — and SIGHUP is sent to its process, because a PID 1 without
 * a handler for it ignores the kernel's (pid_namespaces(7)) but reads its terminal's EOF and ends. */
static void terminal_hung_up(pid_t child, int *master, int status) {
  if (*master >= 0) { close(*master); *master = -1; }
  if (status < 0) kill(child, SIGHUP);
}

/* Waits for CHILD, relaying signals from the CLI (any sender when CLI < 0), the pty (MASTER >= 0),
 * the container's output pipes (detached: into the log), the CLI's liveness (CTLFD EOF kills it) and,
 * detached with -i, what attach clients write to the container's stdin (INW, a pipe, or the pty).
 * Our stdin goes to the container's pty only with -i (INTERACTIVE): with -t alone, as with Docker, the
 * terminal stays as it is and what is typed (or a byte `script` writes at its stdin's EOF) is not the
 * container's input, nor echoed back into its output. */
static int supervise(pid_t child, pid_t cli, int *ctlfd, int master, int outp, int errp2, int inw, int sfd, int detached, int interactive) {
  struct termios saved;
  int raw = 0;
  if (!detached && master >= 0 && interactive && isatty(0) && tcgetattr(0, &saved) == 0) {
    struct termios t = saved;
    cfmakeraw(&t);
    if (tcsetattr(0, TCSANOW, &t) == 0) raw = 1;
  }
  int term = !detached && master >= 0 ? user_terminal(interactive) : -1;
  if (term >= 0) copy_winsize(term, master);
  /* -t alone: the container's pty already turned its \n into \r\n; ours must not do it again (no OPOST). */
  struct termios saved_out;
  int cooked_out = 0;
  if (!raw && term >= 0 && tcgetattr(term, &saved_out) == 0) {
    struct termios t = saved_out;
    t.c_oflag &= ~(tcflag_t)OPOST;
    if (tcsetattr(term, TCSANOW, &t) == 0) cooked_out = 1;
  }
  int term_fd = term;
  int stdin_open = master >= 0 && !detached && interactive;
  /* Attach clients write to the container's input without ever blocking us (monitor.c). */
  if (detached && master >= 0) fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  if (inw >= 0) fcntl(inw, F_SETFL, fcntl(inw, F_GETFL) | O_NONBLOCK);
  pid_t self = getpid();
  int status = -1;
  char buf[32768];
  while (status < 0 || outp >= 0 || errp2 >= 0) {
    struct pollfd fds[6 + ATTACH_POLLFDS];
    int n = 0, i_sig = -1, i_ctl = -1, i_master = -1, i_in = -1, i_out = -1, i_err = -1, i_att = -1, n_att = 0, i_term = -1;
    fds[n] = (struct pollfd){ sfd, POLLIN, 0 }; i_sig = n++;
    if (*ctlfd >= 0) { fds[n] = (struct pollfd){ *ctlfd, POLLIN, 0 }; i_ctl = n++; }
    if (master >= 0) { fds[n] = (struct pollfd){ master, POLLIN, 0 }; i_master = n++; }
    if (stdin_open) { fds[n] = (struct pollfd){ 0, POLLIN, 0 }; i_in = n++; }
    /* Asking for no event still reports POLLHUP: how a terminal we do not read says it hung up. */
    else if (term >= 0 && master >= 0) { fds[n] = (struct pollfd){ term, 0, 0 }; i_term = n++; }
    if (outp >= 0) { fds[n] = (struct pollfd){ outp, POLLIN, 0 }; i_out = n++; }
    if (errp2 >= 0) { fds[n] = (struct pollfd){ errp2, POLLIN, 0 }; i_err = n++; }
    /* Once the container has exited, nothing more is taken from clients (they get EOF at the final exit). */
    if (detached && status < 0) { i_att = n; n_att = attach_pollfds(fds + n, master >= 0 ? master : inw); n += n_att; }
    /* Once the container is gone, its pipes may be held open by orphans only briefly: stop waiting after 1 s. */
    int rc = poll(fds, (nfds_t)n, status >= 0 ? 1000 : -1);
    if (rc < 0) { if (errno == EINTR) continue; break; }
    if (rc == 0) break;
    if (fds[i_sig].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
          int st; pid_t w;
          while ((w = waitpid(-1, &st, WNOHANG)) > 0) if (w == child) status = status_code(st);
        } else if (sig == SIGWINCH) {
          if (master >= 0 && term >= 0) copy_winsize(term, master);
        } else if ((cli < 0 && (pid_t)si.ssi_pid != self) || (pid_t)si.ssi_pid == cli) {
          /* Only what the CLI sends: the terminal's own SIGINT reaches the CLI too, which forwards it.
           * Detached, from anyone but ourselves: the SIGPIPE the kernel sends for our write to a stdin
           * the container closed carries our own pid (SI_USER), and is no one else's business. */
          if (status < 0) kill(child, sig);
        }
      }
    }
    if (i_ctl >= 0 && fds[i_ctl].revents) {
      char c;
      ssize_t r = read(*ctlfd, &c, 1);
      if (r <= 0) { if (!detached && status < 0) kill(child, SIGKILL); close(*ctlfd); *ctlfd = -1; }
    }
    if (i_master >= 0 && fds[i_master].revents) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r > 0) { if (detached) { log_data(0, buf, (size_t)r); log_partial(); } else write_all(1, buf, (size_t)r); }
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) { close(master); master = -1; stdin_open = 0; }
    }
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t r = read(0, buf, sizeof buf);
      if (r > 0 && master >= 0) write_all(master, buf, (size_t)r);
      else if (r <= 0) {
        stdin_open = 0;
        if (raw || (term == 0 && (fds[i_in].revents & POLLHUP))) { terminal_hung_up(child, &master, status); term = -1; }
      }
    }
    if (i_term >= 0 && (fds[i_term].revents & (POLLHUP | POLLERR))) { terminal_hung_up(child, &master, status); term = -1; }
    if (i_out >= 0 && fds[i_out].revents) {
      ssize_t r = read(outp, buf, sizeof buf);
      if (r > 0) log_data(0, buf, (size_t)r); else { close(outp); outp = -1; }
    }
    if (i_err >= 0 && fds[i_err].revents) {
      ssize_t r = read(errp2, buf, sizeof buf);
      if (r > 0) log_data(1, buf, (size_t)r); else { close(errp2); errp2 = -1; }
    }
    /* A stdin pipe the container closed, or whose input an 'I' client ended (StdinOnce), is ours to close
     * too; a pty's end is seen by its read above. */
    if (n_att > 0 && attach_events(fds + i_att, n_att, master >= 0 ? master : inw, master) < 0 && master < 0 && inw >= 0) {
      close(inw); inw = -1;
    }
  }
  /* This run's stdin ends with it; input still pending was for it. A restart gets a new one. */
  if (inw >= 0) close(inw);
  attach_discard();
  if (outp >= 0) close(outp);
  if (errp2 >= 0) close(errp2);
  if (master >= 0) {
    /* Drain what the container wrote before it exited. */
    fcntl(master, F_SETFL, O_NONBLOCK);
    ssize_t r;
    while ((r = read(master, buf, sizeof buf)) > 0) { if (detached) log_data(0, buf, (size_t)r); else write_all(1, buf, (size_t)r); }
    close(master);
  }
  if (detached) log_flush();
  if (raw) tcsetattr(0, TCSANOW, &saved);
  if (cooked_out) tcsetattr(term_fd, TCSANOW, &saved_out);
  if (status < 0) {
    int st;
    if (waitpid(child, &st, 0) == child) status = status_code(st);
  }
  return status < 0 ? 125 : status;
}

static void run_cleanup(struct plan *p) {
  /* First, so attached clients see EOF as soon as the container is gone for good. */
  if (p->attach_path) attach_close(p->attach_path);
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

/* The container's network namespace is the supervisor's, not its init's: it outlives a restart, so
 * the network the CLI attached once (slirp4netns, pasta) serves every run of the container. With
 * container:X it is X's. Inits are then cloned without CLONE_NEWNET and inherit ours. */
static int enter_netns(struct plan *p, struct lerr *e) {
  if (p->join_netns_pid > 0) {
    if (join_ns_of(p->join_netns_pid, "net", CLONE_NEWNET, "is the container whose network is shared still running?", e) < 0) return -1;
    p->ns_flags &= ~CLONE_NEWNET;
    return 0;
  }
  if (!(p->ns_flags & CLONE_NEWNET)) return 0;
  if (unshare(CLONE_NEWNET) < 0) return fail(e, "unshare", "network namespace", errno);
  p->ns_flags &= ~CLONE_NEWNET;
  return 0;
}

/* --pid/--ipc container:X: we join X's namespaces and every init we clone is born in them. A pid
 * namespace joined by setns(2) is our children's, not ours (pid_namespaces(7)); both need
 * CAP_SYS_ADMIN in the namespace's owning user namespace, X's, which userns_enter joined. */
static int enter_shared_ns(struct plan *p, struct lerr *e) {
  if (p->join_pidns_pid > 0) {
    if (join_ns_of(p->join_pidns_pid, "pid", CLONE_NEWPID, "is the container whose pid namespace is shared still running?", e) < 0) return -1;
    p->ns_flags &= ~CLONE_NEWPID;
  }
  if (p->join_ipcns_pid > 0) {
    if (join_ns_of(p->join_ipcns_pid, "ipc", CLONE_NEWIPC, "is the container whose IPC namespace is shared still running?", e) < 0) return -1;
    p->ns_flags &= ~CLONE_NEWIPC;
  }
  return 0;
}

/* Creates the container's init (clone with the plan's namespaces), places it in its cgroup, lets it go
 * and waits until it has exec'd. Returns its pid, or -1 with *CODE set once it has been reaped.
 * Detached with -i and no tty, *INW is the write end of the container's stdin, which we hold open. */
static pid_t start_init(struct plan *p, int *ctlfd, int sfd, int detached, int *master, int *outp, int *errp2, int *inw, int *code) {
  struct lerr e = {0};
  int sync[2], errp[2], pty[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, in[2] = { -1, -1 };
  *master = *outp = *errp2 = *inw = -1;
  *code = 125;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sync) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
      (p->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pty) < 0) ||
      (detached && !p->tty && (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)) ||
      (detached && !p->tty && p->attach_path && pipe2(in, O_CLOEXEC) < 0)) {
    fail(&e, "socketpair", "", errno); report_error(&e); return -1;
  }
  /* clone(2) with a NULL stack behaves like fork(2): fine, we are single-threaded. */
  pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)(p->ns_flags | SIGCHLD), NULL, NULL, NULL, NULL);
  if (child < 0) {
    failf(&e, "clone", "container", errno, "creating the container's namespaces failed");
    report_error(&e); return -1;
  }
  if (child == 0) {
    close(sync[0]); close(errp[0]); if (pty[0] >= 0) close(pty[0]);
    if (*ctlfd >= 0) close(*ctlfd);
    if (report_fd >= 0) close(report_fd);
    close(sfd);
    if (out[1] >= 0) { dup2(out[1], 1); dup2(err[1], 2); close(out[0]); close(err[0]); }
    /* The plan says "stdin inherit" with -i, so container_init leaves this fd 0 alone. */
    if (in[0] >= 0) { dup2(in[0], 0); close(in[1]); }
    /* With --init our code stays PID 1 and never execs: it must not hold the clients' connections. */
    attach_forget();
    container_init(p, sync[1], errp[1], pty[1]);
  }
  close(sync[1]); close(errp[1]); if (pty[1] >= 0) close(pty[1]);
  if (out[1] >= 0) { close(out[1]); close(err[1]); *outp = out[0]; *errp2 = err[0]; }
  if (in[0] >= 0) { close(in[0]); *inw = in[1]; }
  if (p->cgroup && join_cgroup(p->cgroup, child, &e) < 0) { report_error(&e); kill(child, SIGKILL); goto reap; }
  if (p->wait_go) {
    char d = 0;  /* the init is dumpable (container_init): its /proc/PID/ns files can be opened */
    if (read(sync[0], &d, 1) != 1 || d != 'd') { kill(child, SIGKILL); goto reap; }
  }
  report_event("pid", "pid", child);
  if (p->wait_go) {
    char c = 0;
    if (*ctlfd < 0 || read(*ctlfd, &c, 1) != 1 || c != 'g') { kill(child, SIGKILL); goto reap; }
    p->wait_go = 0;  /* a restart needs no second go */
  }
  write_all(sync[0], "g", 1);
  close(sync[0]); sync[0] = -1;
  if (p->tty) { *master = recv_fd(pty[0]); close(pty[0]); pty[0] = -1; }
  struct errmsg m;
  if (read_all(errp[0], &m, sizeof m) == (ssize_t)sizeof m) {
    close(errp[0]); errp[0] = -1;
    report_error(&m.e);
    *code = m.code;
    if (*master >= 0) { close(*master); *master = -1; }
    goto reap;
  }
  close(errp[0]);
  return child;

reap:
  if (sync[0] >= 0) close(sync[0]);
  if (errp[0] >= 0) close(errp[0]);
  if (pty[0] >= 0) close(pty[0]);
  if (*outp >= 0) { close(*outp); close(*errp2); *outp = *errp2 = -1; }
  if (*inw >= 0) { close(*inw); *inw = -1; }
  {
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}
  }
  return -1;
}

/* memory.events counts OOM kills in the cgroup (cgroup-v2.rst): any means the container was OOM-killed. */
static int oom_killed(const char *dir) {
  if (!dir) return 0;
  char path[4200], buf[512];
  snprintf(path, sizeof path, "%s/memory.events", dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *k = strstr(buf, "oom_kill ");
  return k && atoi(k + 9) > 0;
}

/* Docker's restart policies, decided by the monitor alone (there is no daemon). A container stopped on
 * purpose (`lodger stop`/`kill` leave a stop-requested file beside state.json) is not restarted. */
static int stop_requested(struct plan *p) {
  char marker[4200];
  if (!p->state_path) return 1;
  snprintf(marker, sizeof marker, "%s", p->state_path);
  char *slash = strrchr(marker, '/');
  if (!slash) return 0;
  snprintf(slash + 1, sizeof marker - (size_t)(slash + 1 - marker), "stop-requested");
  return access(marker, F_OK) == 0;
}

static int should_restart(struct plan *p, int code, int restarts) {
  if (!p->restart_policy || !strcmp(p->restart_policy, "no")) return 0;
  if (stop_requested(p)) return 0;
  if (!strcmp(p->restart_policy, "on-failure")) return code != 0 && (p->restart_max <= 0 || restarts < p->restart_max);
  return !strcmp(p->restart_policy, "always") || !strcmp(p->restart_policy, "unless-stopped");
}

/* Blocks the signals we relay and returns a signalfd for them, before any child exists to miss one. */
static int signal_fd(struct lerr *e) {
  sigset_t fwd;
  forward_set(&fwd);
  sigprocmask(SIG_BLOCK, &fwd, NULL);
  int sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail(e, "signalfd", "", errno);
  return sfd;
}

int cmd_run(struct plan *p, int ctlfd) {
  struct lerr e = {0};
  int detached = p->detached;
  pid_t cli = detached ? -1 : getppid();
  int sfd = signal_fd(&e);
  if (sfd < 0) { report_error(&e); return 125; }
  if (detached && p->log_path && log_open(p->log_path) < 0) { fail(&e, "open-log", p->log_path, errno); report_error(&e); return 125; }
  if (detached && p->log_max_size) log_limit(p->log_max_size, p->log_max_files);
  /* Bound while we are still the user (before userns_enter): the socket is then the user's, whatever id
   * the container's root maps to (--userns=keep-id), so the user's `lodger attach` may connect. */
  if (detached && p->attach_path && attach_listen(p->attach_path, &e) < 0) { report_error(&e); return 125; }

  /* Compile (or read back) the seccomp filter while we still see the host's paths. */
  if (seccomp_prepare(p->sec, &e) < 0) { report_error(&e); return 125; }
  if (userns_enter(p, &e) < 0) { report_error(&e); run_cleanup(p); return 125; }
  for (int i = 0; i < p->nprepare; i++)
    if (run_step(&p->prepare[i], -1, &e) < 0) { report_error(&e); run_cleanup(p); return 125; }
  if (enter_netns(p, &e) < 0 || enter_shared_ns(p, &e) < 0) { report_error(&e); run_cleanup(p); return 125; }

  struct mon_state ms;
  memset(&ms, 0, sizeof ms);
  if (p->cgroup) snprintf(ms.cgroup, sizeof ms.cgroup, "%s", p->cgroup);
  int code = 125;
  for (;;) {
    int master, outp, errp2, inw;
    pid_t child = start_init(p, &ctlfd, sfd, detached, &master, &outp, &errp2, &inw, &code);
    if (child < 0) break;
    /* state.json has one writer, the container's supervisor: us, attached or detached. */
    ms.running = 1; ms.pid = child; ms.exit_code = 0; ms.error[0] = 0;
    now_rfc3339(ms.started_at, sizeof ms.started_at);
    snprintf(ms.finished_at, sizeof ms.finished_at, "0001-01-01T00:00:00Z");
    if (p->state_path) write_state(p->state_path, &ms);
    /* Only now: a CLI that returns on this report (run -d, start) leaves a state.json that says running
     * to the next command (logs -f, attach), however long the fsync above took. */
    report_event("started", NULL, 0);
    if (detached) {
      /* The CLI has what it needs: from here on we answer to nobody (its exit must not stop us). */
      if (report_fd >= 0) { close(report_fd); report_fd = -1; }
      if (ctlfd >= 0) { close(ctlfd); ctlfd = -1; }
      /* From here on we only wait, relay and log, for as long as the container runs (monitor.c). */
      monitor_trim();
    }
    code = supervise(child, cli, &ctlfd, master, outp, errp2, inw, sfd, detached, p->stdin_mode == STDIN_INHERIT);
    ms.running = 0; ms.exit_code = code;
    ms.oom_killed = oom_killed(p->cgroup);
    now_rfc3339(ms.finished_at, sizeof ms.finished_at);
    if (p->state_path) write_state(p->state_path, &ms);
    if (!detached || !should_restart(p, code, ms.restart_count)) break;
    /* Back off like Docker: 100 ms doubling, at most 10 s between restarts. */
    int delay = 100 << (ms.restart_count < 7 ? ms.restart_count : 7);
    if (delay > 10000) delay = 10000;
    ms.restart_count++;
    poll(NULL, 0, delay);
    /* A stop that came while we waited (the container was not running to be signalled) wins. */
    if (stop_requested(p)) break;
  }
  run_cleanup(p);
  report_event("exit", "code", code);
  return code;
}

static const char *ns_order[] = { "user", "ipc", "uts", "net", "pid", "cgroup", "mnt" };

int cmd_exec(struct plan *p, int ctlfd) {
  struct lerr e = {0};
  /* exec -d: nobody waits for us; the CLI's exit must not kill the process. */
  int detached = p->detached;
  pid_t cli = detached ? -1 : getppid();
  int sfd = signal_fd(&e);
  if (sfd < 0) { report_error(&e); return 125; }
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
  if (seccomp_prepare(p->sec, &e) < 0) { report_error(&e); return 125; }
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
  if (detached) {
    if (report_fd >= 0) { close(report_fd); report_fd = -1; }
    if (ctlfd >= 0) { close(ctlfd); ctlfd = -1; }
  }
  int code = supervise(child, cli, &ctlfd, master, -1, -1, -1, sfd, detached, p->stdin_mode == STDIN_INHERIT);
  report_event("exit", "code", code);
  return code;
}
