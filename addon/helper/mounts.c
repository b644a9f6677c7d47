/* lodger-helper: the mount steps of a plan — rootfs assembly (prepare), container mounts resolved inside
 * the rootfs without following symlinks out of it (setup), unmount and removal (cleanup) — and pivot_root. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <linux/mount.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Resolves PATH as if ROOTFD were "/" (openat2(2) RESOLVE_IN_ROOT): "..", absolute symlinks and
 * symlinks planted by the image all stay inside the rootfs — the runc securejoin rule, done by the kernel. */
static int open_in_root(int rootfd, const char *path, int flags) {
  struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  while (*path == '/') path++;
  if (!*path) path = ".";
  return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

/* mkdir -p inside the root, one component at a time, each resolved in the root. Returns an O_PATH fd. */
static int mkdirs_in_root(int rootfd, const char *path, mode_t mode, struct lerr *e) {
  char buf[PATH_MAX];
  if (strlen(path) >= sizeof buf) return fail(e, F_OPEN_IN_ROOTFS, path, ENAMETOOLONG);
  snprintf(buf, sizeof buf, "%s", path);
  int fd = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT) {
    if (fd < 0) return fail(e, F_OPEN_IN_ROOTFS, path, errno);
    return fd;
  }
  int cur = dup(rootfd);
  for (char *comp = buf, *next; comp && *comp; comp = next) {
    while (*comp == '/') comp++;
    if (!*comp) break;
    next = strchr(comp, '/');
    if (next) *next++ = 0;
    if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST) { int err = errno; close(cur); return fail(e, F_MKDIR, path, err); }
    /* Re-resolve from the root so a symlink that raced in (or was there) is scoped, not followed out. */
    char sofar[PATH_MAX];
    size_t len = (size_t)(comp - buf) + strlen(comp);
    memcpy(sofar, buf, len); sofar[len] = 0;
    for (size_t i = 0; i < len; i++) if (sofar[i] == 0) sofar[i] = '/';
    int nfd = open_in_root(rootfd, sofar, O_PATH | O_DIRECTORY);
    if (nfd < 0) { int err = errno; close(cur); return fail(e, F_OPEN_IN_ROOTFS, sofar, err); }
    close(cur);
    cur = nfd;
  }
  return cur;
}

/* Opens (creating if needed) a mount target inside the root: a directory, or an empty file for file binds. */
static int target_in_root(int rootfd, const char *path, int want_dir, struct lerr *e) {
  if (want_dir) return mkdirs_in_root(rootfd, path, 0755, e);
  int fd = open_in_root(rootfd, path, O_PATH);
  if (fd >= 0) return fd;
  if (errno != ENOENT) return fail(e, F_OPEN_IN_ROOTFS, path, errno);
  char parent[PATH_MAX];
  if (strlen(path) >= sizeof parent) return fail(e, F_OPEN_IN_ROOTFS, path, ENAMETOOLONG);
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  const char *name = path;
  if (slash) { *slash = 0; name = slash + 1; } else parent[0] = 0;
  int pfd AUTOCLOSE = mkdirs_in_root(rootfd, parent[0] ? parent : "/", 0755, e);
  if (pfd < 0) return -1;
  int dfd AUTOCLOSE = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail(e, F_OPEN, parent, errno);
  int f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (f < 0 && errno != EEXIST) return fail(e, F_CREATE, path, errno);
  if (f >= 0) close(f);
  fd = open_in_root(rootfd, path, O_PATH);
  if (fd < 0) return fail(e, F_OPEN_IN_ROOTFS, path, errno);
  return fd;
}

int parse_mount_flags(const char *csv, unsigned long *flags, int *ro, int *rec) {
  static const struct { const char *name; unsigned long flag; } known[] = {
    { "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV }, { "noexec", MS_NOEXEC }, { "rec", MS_REC },
    { "rbind", MS_REC }, { "bind", MS_BIND }, { "relatime", MS_RELATIME }, { "strictatime", MS_STRICTATIME },
  };
  *flags = 0; *ro = 0; *rec = 0;
  for (const char *t = csv; *t;) {
    size_t n = strcspn(t, ",");
    size_t i = 0;
    while (i < sizeof known / sizeof *known && (strlen(known[i].name) != n || strncmp(known[i].name, t, n))) i++;
    if (i == sizeof known / sizeof *known) return -1;
    *flags |= known[i].flag;
    t += n;
    if (*t == ',') t++;
  }
  *ro = (*flags & MS_RDONLY) != 0;
  *rec = (*flags & MS_REC) != 0;
  return 0;
}

static void fdpath(char *out, size_t n, int fd) { snprintf(out, n, "/proc/self/fd/%d", fd); }

/* Makes the mount at FD read-only; mount_setattr(2) keeps the flags a user namespace may not clear. */
static int make_readonly(int fd, int rec, const char *path, struct lerr *e) {
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof attr) == 0) return 0;
  /* Older kernels: a bind remount must repeat the locked flags of the mount (mount(2) EPERM rule). */
  char p[64]; fdpath(p, sizeof p, fd);
  struct statvfs sv;
  unsigned long keep = 0;
  if (fstatvfs(fd, &sv) == 0) {
    if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
  }
  if (mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0) return fail(e, F_REMOUNT_RO, path, errno);
  return 0;
}

/* bind SRC TARGET FLAGS: SRC is a host path, TARGET a path in the container. */
static int step_bind(int rootfd, const char **a, struct lerr *e) {
  int ro, rec;
  unsigned long flags;
  if (parse_mount_flags(a[2], &flags, &ro, &rec) < 0) return failf(e, F_PLAN, a[2], EINVAL, "unknown mount flag");
  int src AUTOCLOSE = open(a[0], O_PATH | O_CLOEXEC);
  if (src < 0) return fail(e, F_OPEN_BIND_SOURCE, a[0], errno);
  struct stat st;
  if (fstat(src, &st) < 0) return fail(e, F_STAT, a[0], errno);
  int dst AUTOCLOSE = target_in_root(rootfd, a[1], S_ISDIR(st.st_mode), e);
  if (dst < 0) return -1;
  char sp[64], dp[64];
  fdpath(sp, sizeof sp, src); fdpath(dp, sizeof dp, dst);
  if (mount(sp, dp, NULL, MS_BIND | (flags & MS_REC), NULL) < 0) return fail(e, F_BIND_MOUNT, a[1], errno);
  if (ro || (flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC))) {
    int m AUTOCLOSE = open_in_root(rootfd, a[1], O_PATH);
    if (m < 0) return fail(e, F_OPEN_IN_ROOTFS, a[1], errno);
    struct mount_attr attr = { .attr_set = (ro ? MOUNT_ATTR_RDONLY : 0) | ((flags & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
                                           ((flags & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) | ((flags & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0) };
    if (syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0) {
      if (errno != ENOSYS) return fail(e, F_MOUNT_SETATTR, a[1], errno);
      if (ro && make_readonly(m, rec, a[1], e) < 0) return -1;
    }
  }
  return 0;
}

/* mount SRC TARGET FSTYPE FLAGS DATA, TARGET inside the container root (rootfd >= 0) or a host path. */
static int step_mount(int rootfd, const char **a, struct lerr *e) {
  int ro, rec;
  unsigned long flags;
  if (parse_mount_flags(a[3], &flags, &ro, &rec) < 0) return failf(e, F_PLAN, a[3], EINVAL, "unknown mount flag");
  const char *data = a[4][0] ? a[4] : NULL;
  if (rootfd < 0) {
    if (mount(a[0], a[1], a[2], flags, data) < 0) return failf(e, F_MOUNT, a[1], errno, "%s", a[2]);
    return 0;
  }
  int dst AUTOCLOSE = mkdirs_in_root(rootfd, a[1], 0755, e);
  if (dst < 0) return -1;
  char dp[64]; fdpath(dp, sizeof dp, dst);
  if (mount(a[0], dp, a[2], flags, data) < 0) return failf(e, F_MOUNT, a[1], errno, "%s", a[2]);
  return 0;
}

/* fuse-overlayfs TARGET OPTIONS: a FUSE daemon like squashfuse_ll (fusemount.c): dies with us, holds the
 * signals a batch scheduler sends, keeps its stderr out of the user's sight unless it fails. */
static int step_fuse_overlay(const char **a, struct lerr *e) {
  char *const argv[] = { "fuse-overlayfs", "-f", "-o", (char *)a[1], (char *)a[0], NULL };
  return fuse_daemon_mount(F_FUSE_OVERLAYFS, argv, a[0], e);
}

static int rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb; (void)ftw;
  if (type == FTW_DP) return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
  return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rmtree(const char *path, struct lerr *e) {
  struct stat st;
  if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : fail(e, F_LSTAT, path, errno);
  /* FTW_PHYS: never follow symlinks; FTW_MOUNT: never cross into a mount left behind. */
  if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) return fail(e, F_REMOVE, path, errno);
  return 0;
}

/* A container's cgroup after its final exit: whatever is left is killed with cgroup.kill (cgroup-v2.rst,
 * Linux 5.14+), and the directory removed once cgroup.events says it is no longer populated. */
static int rmdir_cgroup(const char *dir, struct lerr *e) {
  char path[4200], buf[256];
  snprintf(path, sizeof path, "%s/cgroup.kill", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { if (write(fd, "1", 1) < 0) { /* older kernel: nothing to kill with */ } close(fd); }
  snprintf(path, sizeof path, "%s/cgroup.events", dir);
  for (int i = 0; i < 200; i++) {
    int ev = open(path, O_RDONLY | O_CLOEXEC);
    if (ev < 0) break;
    ssize_t n = read(ev, buf, sizeof buf - 1);
    close(ev);
    if (n <= 0) break;
    buf[n] = 0;
    if (strstr(buf, "populated 0")) break;
    struct timespec ts = { 0, 10000000 };
    nanosleep(&ts, NULL);
  }
  if (rmdir(dir) < 0 && errno != ENOENT) return fail(e, F_RMDIR_CGROUP, dir, errno);
  return 0;
}

int run_step(const struct step *s, int rootfd, struct lerr *e) {
  /* The decoder checked each step's argument count and kinds against steps.def (plan.c). */
  const char **a = s->argv;
  switch (s->id) {
  case R_MOUNT: return step_mount(rootfd, a, e);
  case R_BIND: return step_bind(rootfd, a, e);
  case R_FUSE_OVERLAYFS: return step_fuse_overlay(a, e);
  case R_SQUASHFUSE: return step_squashfuse(a, e);
  case R_MKDIR: {
    mode_t mode = (mode_t)strtoul(a[1], NULL, 8);
    if (rootfd < 0) {
      if (mkdir(a[0], mode) < 0 && errno != EEXIST) return fail(e, F_MKDIR, a[0], errno);
      return 0;
    }
    int fd AUTOCLOSE = mkdirs_in_root(rootfd, a[0], mode, e);
    return fd < 0 ? -1 : 0;
  }
  case R_SYMLINK: {
    /* symlink LINKTARGET PATH: PATH's parent resolved in the root; an existing entry is left alone. */
    char parent[PATH_MAX];
    if (strlen(a[1]) >= sizeof parent) return fail(e, F_SYMLINK, a[1], ENAMETOOLONG);
    snprintf(parent, sizeof parent, "%s", a[1]);
    char *slash = strrchr(parent, '/');
    if (!slash) return fail(e, F_SYMLINK, a[1], EINVAL);
    *slash = 0;
    int pfd AUTOCLOSE = mkdirs_in_root(rootfd, parent[0] ? parent : "/", 0755, e);
    if (pfd < 0) return -1;
    int dfd AUTOCLOSE = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return fail(e, F_OPEN, parent, errno);
    if (symlinkat(a[0], dfd, slash + 1) < 0 && errno != EEXIST) return fail(e, F_SYMLINK, a[1], errno);
    return 0;
  }
  case R_REMOUNT_RO: {
    int fd AUTOCLOSE = open_in_root(rootfd, a[0], O_PATH);
    if (fd < 0) return fail(e, F_OPEN_IN_ROOTFS, a[0], errno);
    return make_readonly(fd, !strcmp(a[1], "rec"), a[0], e);
  }
  case R_READONLY: {
    /* A path of the container made read-only where it is (e.g. /proc/sys): bind it onto itself, then
     * set the read-only attribute on that new mount. */
    int fd AUTOCLOSE = open_in_root(rootfd, a[0], O_PATH);
    if (fd < 0) return errno == ENOENT ? 0 : fail(e, F_OPEN_IN_ROOTFS, a[0], errno);
    char dp[64]; fdpath(dp, sizeof dp, fd);
    if (mount(dp, dp, NULL, MS_BIND | MS_REC, NULL) < 0) return fail(e, F_BIND_MOUNT, a[0], errno);
    int m AUTOCLOSE = open_in_root(rootfd, a[0], O_PATH);
    if (m < 0) return fail(e, F_OPEN_IN_ROOTFS, a[0], errno);
    return make_readonly(m, 1, a[0], e);
  }
  case R_MASK: {
    /* A masked path: /dev/null over a file, an empty read-only tmpfs over a directory (as runc does). */
    int fd AUTOCLOSE = open_in_root(rootfd, a[0], O_PATH);
    if (fd < 0) return errno == ENOENT ? 0 : fail(e, F_OPEN_IN_ROOTFS, a[0], errno);
    struct stat st;
    if (fstat(fd, &st) < 0) return fail(e, F_STAT, a[0], errno);
    char dp[64]; fdpath(dp, sizeof dp, fd);
    if (S_ISDIR(st.st_mode)) {
      if (mount("tmpfs", dp, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0) return fail(e, F_MASK, a[0], errno);
    } else if (mount("/dev/null", dp, NULL, MS_BIND, NULL) < 0) return fail(e, F_MASK, a[0], errno);
    return 0;
  }
  case R_LOOPBACK_UP: {
    /* A new network namespace starts with lo down (network_namespaces(7)); Docker's containers have it up. */
    int sk AUTOCLOSE = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) return fail(e, F_SOCKET, "lo", errno);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) return fail(e, F_GET_IF_FLAGS, "lo", errno);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) return fail(e, F_SET_IF_FLAGS, "lo", errno);
    return 0;
  }
  case R_UMOUNT: {
    if (umount2(a[0], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) return fail(e, F_UMOUNT, a[0], errno);
    return 0;
  }
  case R_SYSCTL: {
    /* sysctl KEY VALUE (--sysctl): written to the container's /proc/sys before it is made read-only;
     * the CLI allows only keys the container's own namespaces hold (net.*, kernel.shm*, …). */
    char p[512];
    if ((size_t)snprintf(p, sizeof p, "/proc/sys/%s", a[0]) >= sizeof p) return fail(e, F_SYSCTL, a[0], ENAMETOOLONG);
    for (char *c = p + 10; *c; c++) if (*c == '.') *c = '/';
    int fd AUTOCLOSE = open_in_root(rootfd, p, O_WRONLY);
    if (fd < 0) return fail(e, F_SYSCTL, a[0], errno);
    if (write_all(fd, a[1], strlen(a[1])) < 0) return fail(e, F_SYSCTL, a[0], errno);
    return 0;
  }
  case R_RMTREE: return rmtree(a[0], e);
  case R_RMDIR_CGROUP: return rmdir_cgroup(a[0], e);
  case R_KILL_PIDFILE: {
    /* A network process that outlives the namespace it served (pasta keeps it alive itself) is told to
     * go by the pid it wrote (pasta(1) --pid); a missing file means it never started or is gone. */
    char buf[32] = {0};
    int fd AUTOCLOSE = open(a[0], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    if (read(fd, buf, sizeof buf - 1) <= 0) return 0;
    long pid = strtol(buf, NULL, 10);
    if (pid > 1) kill((pid_t)pid, SIGTERM);
    return 0;
  }
  default:
    return failf(e, F_PLAN, s->op, EINVAL, "not a step of a phase");
  }
}

int do_pivot(const char *rootfs, struct lerr *e) {
  /* pivot_root(".", ".") stacks the old root on top of the new one; unmounting "." then detaches it
   * (pivot_root(2), NOTES), so no path to the host's root stays reachable. */
  if (chdir(rootfs) < 0) return fail(e, F_CHDIR, rootfs, errno);
  if (syscall(SYS_pivot_root, ".", ".") < 0) return fail(e, F_PIVOT_ROOT, rootfs, errno);
  if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0) return fail(e, F_MAKE_RSLAVE, "old root", errno);
  if (umount2(".", MNT_DETACH) < 0) return fail(e, F_UMOUNT, "old root", errno);
  if (chdir("/") < 0) return fail(e, F_CHDIR, "/", errno);
  return 0;
}
