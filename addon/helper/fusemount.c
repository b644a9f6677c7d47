/* lodger-helper: FUSE daemons the helper runs for a container's root filesystem — squashfuse_ll serving a squashfs image file. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Runs ARGV (a FUSE daemon kept in the foreground with -f) as our child and waits until TARGET becomes a
 * different filesystem (its st_dev changes once the mount exists). The daemon dies with us
 * (PR_SET_PDEATHSIG, prctl(2)): the helper is the container's supervisor, so the daemon lives exactly as
 * long as the container does, also when the helper is killed. Its mount lives in our private mount
 * namespace and is gone with it (mount_namespaces(7)). */
int fuse_daemon_mount(const char *name, char *const argv[], const char *target, struct lerr *e) {
  struct stat before, now;
  if (stat(target, &before) < 0) return fail(e, name, target, errno);
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
    if (null >= 0) { dup2(null, 0); dup2(null, 1); if (null > 2) close(null); }
    execvp(argv[0], argv);
    _exit(127);
  }
  for (int i = 0; i < 20000; i++) {  /* up to 20 s */
    if (stat(target, &now) == 0 && now.st_dev != before.st_dev) return 0;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (code == 127) return failf(e, name, target, ENOENT, "%s could not be started: is it installed?", argv[0]);
      return failf(e, name, target, 0, "%s exited with status %d before mounting", argv[0], code);
    }
    struct timespec ts = { 0, 1000000 };
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  return fail(e, name, target, ETIMEDOUT);
}

/* squashfuse FILE TARGET: squashfuse_ll (Debian squashfuse) serves the image file read-only at TARGET,
 * from inside our user namespace, where FUSE may be mounted (fuse(4), FS_USERNS_MOUNT). The kernel's own
 * squashfs is out of reach for us: it mounts only a block device (a loop device needs CAP_SYS_ADMIN in
 * the initial user namespace, loop(4)) and is not mountable in a user namespace at all. */
int step_squashfuse(const char **a, struct lerr *e) {
  char *const argv[] = { "squashfuse_ll", "-f", (char *)a[0], (char *)a[1], NULL };
  return fuse_daemon_mount(F_SQUASHFUSE, argv, a[1], e);
}
