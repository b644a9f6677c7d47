/* lodger-helper: FUSE daemons the helper runs for a container's root filesystem — squashfuse_ll serving a squashfs image file. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a daemon wrote to its stderr (the memfd LOG), last line first trimmed, as the failure's detail. */
static void stderr_detail(int log, struct lerr *e) {
  if (log < 0) return;
  char buf[sizeof e->detail];
  off_t size = lseek(log, 0, SEEK_END);
  off_t from = size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0;
  ssize_t n = pread(log, buf, sizeof buf - 1, from);
  if (n <= 0) return;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
  buf[n] = 0;
  for (ssize_t i = 0; i < n; i++) if (buf[i] == '\n') buf[i] = ' ';  /* one line: the error is one line */
  size_t used = strlen(e->detail);
  snprintf(e->detail + used, sizeof e->detail - used, "%s%s", used ? ": " : "", buf);
}

/* Runs ARGV (a FUSE daemon kept in the foreground with -f) as our child and waits until TARGET becomes a
 * different filesystem (its st_dev changes once the mount exists). Its stderr goes to a memory file, not
 * to the user's terminal or the container's output (fuse-overlayfs says "unknown argument ignored:
 * lazytime" on every mount): it is read only when the daemon fails, into the error's detail. A memfd
 * rather than a pipe: nobody reads after the mount, and a full pipe would block the daemon. The daemon dies with us
 * (PR_SET_PDEATHSIG, prctl(2)): the helper is the container's supervisor, so the daemon lives exactly as
 * long as the container does, also when the helper is killed. Its mount lives in our private mount
 * namespace and is gone with it (mount_namespaces(7)). */
int fuse_daemon_mount(const char *name, char *const argv[], const char *target, struct lerr *e) {
  struct stat before, now;
  if (stat(target, &before) < 0) return fail(e, name, target, errno);
  int log AUTOCLOSE = memfd_create(name, MFD_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0) return fail(e, F_FORK, name, errno);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The daemon ends when the helper unmounts its filesystem or dies, never on a signal of its own:
     * a batch scheduler signals every process of a job (Slurm's proctrack/linuxproc, scancel(1)), and
     * libfuse would unmount on SIGTERM/SIGINT/SIGHUP while the container still handles its own copy.
     * Those stay blocked across execve(2) (signal(7)), so libfuse's handlers never run. */
    sigset_t mask;
    sigemptyset(&mask);
    int held[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE };
    for (size_t i = 0; i < sizeof held / sizeof *held; i++) sigaddset(&mask, held[i]);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); if (log < 0) dup2(null, 2); if (null > 2) close(null); }
    if (log >= 0) dup2(log, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  for (int i = 0; i < 20000; i++) {  /* up to 20 s */
    if (stat(target, &now) == 0 && now.st_dev != before.st_dev) return 0;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (code == 127) return failf(e, name, target, ENOENT, "%s could not be started: is it installed?", argv[0]);
      failf(e, name, target, 0, "%s exited with status %d before mounting", argv[0], code);
      stderr_detail(log, e);
      return -1;
    }
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  fail(e, name, target, ETIMEDOUT);
  stderr_detail(log, e);
  return -1;
}

/* squashfuse FILE TARGET: squashfuse_ll (Debian squashfuse) serves the image file read-only at TARGET,
 * from inside our user namespace, where FUSE may be mounted (fuse(4), FS_USERNS_MOUNT). The kernel's own
 * squashfs is out of reach for us: it mounts only a block device (a loop device needs CAP_SYS_ADMIN in
 * the initial user namespace, loop(4)) and is not mountable in a user namespace at all. */
int step_squashfuse(const char **a, struct lerr *e) {
  char *const argv[] = { "squashfuse_ll", "-f", (char *)a[0], (char *)a[1], NULL };
  return fuse_daemon_mount(F_SQUASHFUSE, argv, a[1], e);
}
