/* Test wrapper around lodger-helper, used by test/security through LODGER_HELPER (via a two-line script):
 *   helperwrap [--leak PATH] [--no-close-range] [--no-fd-listing] HELPER ARGS…
 * It puts the helper in situations the CLI never creates, to show that the helper's own defences hold:
 *   --leak PATH       opens PATH without O_CLOEXEC as fd 42: a host fd the helper holds by mistake
 *                     (how CVE-2024-21626 began) and must not hand to the container.
 *   --no-close-range  answers close_range(2) with ENOSYS through a seccomp filter, as a kernel before
 *                     5.9 does, so the helper has to mark its fds close-on-exec another way.
 *   --no-fd-listing   also answers getdents64(2) with EPERM, so /proc/self/fd cannot be listed either
 *                     and the helper has to refuse to start the command.
 * An unprivileged filter needs no_new_privs, under which newuidmap (setuid) cannot work: with a filter,
 * run containers with --userns=single, or exec into a container started without the wrapper. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "helperwrap.c: add this machine's AUDIT_ARCH"
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int main(int argc, char **argv) {
  int i = 1, no_close_range = 0, no_listing = 0;
  for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
    if (!strcmp(argv[i], "--no-close-range")) no_close_range = 1;
    else if (!strcmp(argv[i], "--no-fd-listing")) no_listing = 1;
    else if (!strcmp(argv[i], "--leak") && i + 1 < argc) {
      int fd = open(argv[++i], O_RDONLY);  /* no O_CLOEXEC: that is the point */
      if (fd < 0 || dup2(fd, 42) < 0) { perror("helperwrap: --leak"); return 2; }
      if (fd != 42) close(fd);
    } else { fprintf(stderr, "helperwrap: unknown option %s\n", argv[i]); return 2; }
  }
  if (i >= argc) { fprintf(stderr, "usage: helperwrap [--leak PATH] [--no-close-range] [--no-fd-listing] HELPER ARGS...\n"); return 2; }
  if (no_close_range || no_listing) {
    /* Calls of another architecture (a 32-bit program) pass: only this one's numbers are known here. A
     * number that matches no call (~0) stands in for a case that is off. */
    struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, no_close_range ? SYS_close_range : ~0u, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, no_listing ? SYS_getdents64 : ~0u, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { perror("helperwrap: no_new_privs"); return 2; }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) { perror("helperwrap: seccomp"); return 2; }
  }
  execv(argv[i], argv + i);
  perror("helperwrap: exec");
  return 127;
}
