/* Test probe run inside containers by test/security: makes one system call per named case and prints
 * "NAME ok" or "NAME E<errno-name>" ("euid N" for the effective uid). Built static (the busybox image has no libc) by securityHarness.ts.
 * Arguments are chosen so that, where the kernel validates them before checking a capability, an unfiltered
 * call fails with something other than EPERM: an EPERM then shows the seccomp filter refused the call. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *ename(int e) {
  switch (e) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EBADF: return "EBADF"; case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL"; case ENOSYS: return "ENOSYS"; case EACCES: return "EACCES"; case ENOKEY: return "ENOKEY";
    case EAFNOSUPPORT: return "EAFNOSUPPORT"; case ENODEV: return "ENODEV"; case EBUSY: return "EBUSY"; case ESRCH: return "ESRCH";
    case ENOTDIR: return "ENOTDIR"; case EOPNOTSUPP: return "EOPNOTSUPP"; case E2BIG: return "E2BIG"; case ENOMEM: return "ENOMEM";
    case EROFS: return "EROFS"; case EEXIST: return "EEXIST";
    default: { static char b[32]; snprintf(b, sizeof b, "E%d", e); return b; }
  }
}

/* A raw clone with FLAGS whose child exits at once: the result of the clone itself is what counts. */
static long raw_clone(unsigned long flags) {
  long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return r < 0 ? -1 : 0;
}

static void *thread_main(void *arg) { return arg; }

/* pthread_create: glibc tries clone3 first and falls back to clone(2) on ENOSYS. */
static long threads(void) {
  pthread_t t;
  void *ret = NULL;
  int rc = pthread_create(&t, NULL, thread_main, (void *)42);
  if (rc) { errno = rc; return -1; }
  pthread_join(t, &ret);
  return ret == (void *)42 ? 0 : (errno = EIO, -1);
}

static long run(const char *c) {
  if (!strcmp(c, "threads")) return threads();
  if (!strcmp(c, "keyctl")) return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1);
  if (!strcmp(c, "add_key")) return syscall(SYS_add_key, "user", "lodger-probe", "x", 1, -2 /* process keyring */);
  if (!strcmp(c, "request_key")) return syscall(SYS_request_key, "user", "lodger-probe-absent", NULL, 0);
  if (!strcmp(c, "mount")) return syscall(SYS_mount, "none", (char *)1, "tmpfs", 0, NULL);  /* bad target pointer */
  if (!strcmp(c, "umount2")) return syscall(SYS_umount2, "/", 0x7fff0000);                /* bad flags */
  if (!strcmp(c, "unshare-user")) return syscall(SYS_unshare, CLONE_NEWUSER);
  if (!strcmp(c, "unshare-mnt")) return syscall(SYS_unshare, CLONE_NEWNS);
  if (!strcmp(c, "clone-newuser")) return raw_clone(CLONE_NEWUSER);
  if (!strcmp(c, "clone-plain")) return raw_clone(0);
  if (!strcmp(c, "clone3")) return syscall(SYS_clone3, NULL, 0);                         /* bad size */
  if (!strcmp(c, "setns")) return syscall(SYS_setns, -1, 0);
  if (!strcmp(c, "bpf")) return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0);
  if (!strcmp(c, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
  if (!strcmp(c, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0);
  if (!strcmp(c, "init_module")) return syscall(SYS_init_module, NULL, 0, "");
  if (!strcmp(c, "finit_module")) return syscall(SYS_finit_module, -1, "", 0);
  if (!strcmp(c, "delete_module")) return syscall(SYS_delete_module, "lodger_probe_absent", 0);
  if (!strcmp(c, "swapon")) return syscall(SYS_swapon, "/lodger-probe-absent", 0);
  if (!strcmp(c, "swapoff")) return syscall(SYS_swapoff, "/lodger-probe-absent");
  if (!strcmp(c, "reboot")) return syscall(SYS_reboot, 0, 0, 0, NULL);                    /* bad magic */
  if (!strcmp(c, "settimeofday")) return syscall(SYS_settimeofday, NULL, NULL);          /* changes nothing */
  if (!strcmp(c, "clock_settime")) return syscall(SYS_clock_settime, 0, NULL);           /* bad pointer */
  if (!strcmp(c, "acct")) return syscall(SYS_acct, NULL);
  if (!strcmp(c, "quotactl")) return syscall(SYS_quotactl, 0x7fffff00, NULL, 0, NULL);    /* bad type */
  if (!strcmp(c, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, -1, NULL, 0);
  if (!strcmp(c, "userfaultfd")) return syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */);
  if (!strcmp(c, "personality-bad")) return syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */);
  if (!strcmp(c, "personality-query")) return syscall(SYS_personality, 0xffffffffUL);
  if (!strcmp(c, "io_uring_setup")) return syscall(SYS_io_uring_setup, 1, NULL);
  if (!strcmp(c, "socket-vsock")) return syscall(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
  if (!strcmp(c, "socket-inet")) return syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  if (!strcmp(c, "mount_setattr")) return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0);
  if (!strcmp(c, "ptrace-traceme")) return syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
  if (!strcmp(c, "chroot")) return syscall(SYS_chroot, "/");
  if (!strcmp(c, "getppid")) return syscall(SYS_getppid);
  if (!strcmp(c, "mkdir")) return syscall(SYS_mkdir, "/tmp/lodger-probe-dir", 0755);
  if (!strcmp(c, "personality-8")) return syscall(SYS_personality, 8);
  if (!strcmp(c, "personality-0")) return syscall(SYS_personality, 0);
  if (!strcmp(c, "kcmp")) return syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0);  /* fd 0 with itself */
  if (!strcmp(c, "close_range")) return syscall(SYS_close_range, ~0U, ~0U, 0);                   /* closes nothing */
  if (!strcmp(c, "euid")) return geteuid();                                                    /* printed as a number */
  errno = EINVAL;
  fprintf(stderr, "sysprobe: unknown case %s\n", c);
  return -2;
}

/* Each case in a child of its own, so one that succeeds (unshare, chroot) cannot change the next one's answer. */
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    pid_t pid = fork();
    if (pid < 0) { perror("sysprobe: fork"); return 2; }
    if (pid == 0) {
      errno = 0;
      long r = run(argv[i]);
      if (r == -2) _exit(2);
      if (r < 0) printf("%s %s\n", argv[i], ename(errno));
      else if (!strcmp(argv[i], "euid")) printf("%s %ld\n", argv[i], r);
      else printf("%s ok\n", argv[i]);
      fflush(stdout);
      _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) { perror("sysprobe: waitpid"); return 2; }
    if (WIFSIGNALED(st)) { printf("%s signal %d\n", argv[i], WTERMSIG(st)); fflush(stdout); }
    else if (WEXITSTATUS(st) != 0) return WEXITSTATUS(st);
  }
  return 0;
}
