/* lodger-helper: what the detached-container monitor keeps — the container's log (docker's json-file
 * lines: {"log","stream","time"}) and its state.json, both written so a reader never sees half a record —
 * and, for a container created with -i, the attach socket whose clients write to the container's stdin. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static char pending[2][16384];
static size_t pending_len[2];
static const char *log_file;
static unsigned long long log_size, log_max;
static int log_files = 1;

int log_open(const char *path) {
  log_file = path;
  log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  if (log_fd >= 0 && fstat(log_fd, &st) == 0) log_size = (unsigned long long)st.st_size;
  return log_fd;
}

/* --log-opt max-size/max-file (Docker's json-file): past MAX_SIZE bytes the log moves to LOG.1 (older
 * ones to LOG.2 … LOG.FILES-1, the oldest dropped), or, with one file, starts again empty. */
void log_limit(unsigned long long max_size, int max_files) {
  log_max = max_size;
  log_files = max_files > 0 ? max_files : 1;
}

static void log_rotate(void) {
  char from[4200], to[4200];
  if (log_files <= 1) {
    if (ftruncate(log_fd, 0) == 0) log_size = 0;
    return;
  }
  for (int i = log_files - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof from, "%s", log_file);
    else snprintf(from, sizeof from, "%s.%d", log_file, i - 1);
    snprintf(to, sizeof to, "%s.%d", log_file, i);
    rename(from, to);  /* a missing older file is no error */
  }
  int fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;  /* keep writing to the renamed file rather than lose output */
  close(log_fd);
  log_fd = fd;
  log_size = 0;
}

void now_rfc3339(char *out, size_t n) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%09ldZ", base, ts.tv_nsec);
}

static void emit_line(int stream, const char *data, size_t n) {
  if (log_fd < 0) return;
  char ts[64];
  now_rfc3339(ts, sizeof ts);
  /* Worst case every byte becomes \u00XX. */
  size_t cap = n * 6 + 128;
  char *out = malloc(cap);
  if (!out) return;
  size_t o = 0;
  o += (size_t)snprintf(out + o, cap - o, "{\"log\":\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
    else if (c == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
    else if (c == '\r') { out[o++] = '\\'; out[o++] = 'r'; }
    else if (c == '\t') { out[o++] = '\\'; out[o++] = 't'; }
    else if (c < 0x20) o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    else out[o++] = (char)c;
  }
  o += (size_t)snprintf(out + o, cap - o, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream ? "stderr" : "stdout", ts);
  write_all(log_fd, out, o);
  free(out);
  log_size += o;
  if (log_max && log_size >= log_max) log_rotate();
}

/* Splits DATA into lines (each logged with its newline, as docker does); keeps a partial line pending. */
void log_data(int stream, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    pending[stream][pending_len[stream]++] = data[i];
    if (data[i] == '\n' || pending_len[stream] == sizeof pending[stream]) {
      emit_line(stream, pending[stream], pending_len[stream]);
      pending_len[stream] = 0;
    }
  }
}

/* A pty's output is interactive: a prompt or the echo of a key has no newline yet, and `attach` shows
 * what the log holds. So what a read from the pty left pending is logged at once (as a record without a
 * newline, as docker's json-file does for partial messages); no fsync, that is for the final exit. */
void log_partial(void) {
  for (int s = 0; s < 2; s++) if (pending_len[s]) { emit_line(s, pending[s], pending_len[s]); pending_len[s] = 0; }
}

void log_flush(void) {
  log_partial();
  if (log_fd >= 0) fsync(log_fd);
}

/* The monitor's resident code is what it needs to wait, relay and log; setting the container up (plan,
 * id maps, seccomp compilation, clone) touched far more of libc, libseccomp and ourselves, and file pages
 * are mapped around each fault (fault-around: 64 KiB by default, debugfs fault_around_bytes),
 * so VmRSS ended near 2 MiB before a byte was logged. Code pages are never written, so MADV_DONTNEED on
 * them only unmaps them: a later access maps them again from the page cache (madvise(2)). Writable or
 * relocated (RELRO) segments are left alone — those pages hold data that the file does not. */
static int drop_code(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size; (void)data;
  /* The vDSO is the kernel's special mapping, not a file: leave it mapped. */
  if (info->dlpi_name && strstr(info->dlpi_name, "vdso")) return 0;
  long page = sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || (ph->p_flags & PF_W)) continue;
    /* Only pages wholly inside the segment: a page it shares with a neighbouring (perhaps relocated)
     * segment keeps what was written to it. */
    uintptr_t start = (info->dlpi_addr + ph->p_vaddr + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)(page - 1);
    if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
  }
  return 0;
}

void monitor_trim(void) {
  dl_iterate_phdr(drop_code, NULL);
}

static long long pid_start_time(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  /* Field 22 (starttime); after ") " come fields 3.. */
  int field = 2;
  for (p += 1; *p && field < 22; p++) if (*p == ' ') field++;
  return atoll(p);
}

/* state.json as the CLI reads it (ContainerState in src/storage/containers.ts): temp, fsync, rename. */
int write_state(const char *path, const struct mon_state *s) {
  char *buf = NULL; size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (!f) return -1;
  fprintf(f, "{\n  \"Status\": \"%s\",\n  \"Running\": %s,\n  \"Paused\": false,\n  \"Pid\": %d,\n",
          s->running ? "running" : "exited", s->running ? "true" : "false", s->running ? (int)s->pid : 0);
  long long st = s->running ? pid_start_time(s->pid) : -1;
  if (st >= 0) fprintf(f, "  \"PidStartTime\": %lld,\n", st);
  fprintf(f, "  \"MonitorPid\": %d,\n  \"ExitCode\": %d,\n  \"OOMKilled\": %s,\n  \"Error\": \"%s\",\n",
          (int)getpid(), s->exit_code, s->oom_killed ? "true" : "false", s->error);
  fprintf(f, "  \"StartedAt\": \"%s\",\n  \"FinishedAt\": \"%s\",\n  \"RestartCount\": %d", s->started_at, s->finished_at, s->restart_count);
  if (s->cgroup[0]) fprintf(f, ",\n  \"CgroupPath\": \"%s\"", s->cgroup);
  fprintf(f, "\n}\n");
  fclose(f);
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
  /* 0644: we write it as root of the container's user namespace, which under --userns=keep-id is a
   * subordinate id, not the user — whose CLI must still read it. The container's directory (0700, the
   * user's) keeps everyone else out. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int rc = -1;
  if (fd >= 0) fchmod(fd, 0644);  /* whatever the umask (HPC sites often set 077) */
  if (fd >= 0) {
    if (write_all(fd, buf, n) >= 0 && fsync(fd) == 0 && close(fd) == 0 && rename(tmp, path) == 0) rc = 0;
    else { close(fd); unlink(tmp); }
  }
  free(buf);
  return rc;
}

/* The attach socket. Protocol (the CLI's side is src/runtime/attach.ts): on accept the monitor writes one
 * byte, 'y' (attached) or 'n' (ATTACH_MAX clients already). The client's first byte then says what the
 * connection is: 'i' — every later byte is the container's stdin, until the client closes; 'w' plus rows
 * and cols (two big-endian u16 each, sent in one write) — resize the pty, then close; 'I' — as 'i', and the
 * client's EOF (its shutdown(2) of writing, after all its input was written) closes the container's stdin
 * pipe, so a program reading it sees end of input (Docker's StdinOnce: `docker run -i` with piped input);
 * on a pty it is an 'i' (a tty's input ends with its hangup, not a client's EOF). An 'i' client's EOF never
 * closes the container's stdin: nobody attached is not end of input (Docker's StdinOnce=false).
 * Several clients may be attached at once ("screen sharing"); their input is forwarded chunk by chunk. */
static int att_listen = -1;
static int att_fd[ATTACH_MAX];
static char att_kind[ATTACH_MAX];      /* 0: greeted, first byte not read yet; 'i' or 'I': a stdin stream */
static int att_eof;                    /* an 'I' client ended its input: the container's stdin is to close */
/* Input read from a client and not yet written: nothing more is read until it is, so a container that
 * does not read its stdin stalls the clients (their socket buffers fill), never the monitor. */
static char att_buf[4096];
static size_t att_len, att_off;
static int att_map[ATTACH_POLLFDS];    /* what each pollfd attach_pollfds added stands for */

/* Input with nowhere to go (the container has no stdin, closed it, or this run of it ended) is dropped,
 * so clients never block on it. */
void attach_discard(void) { att_off = att_len = 0; }

int attach_listen(const char *path, struct lerr *e) {
  for (int i = 0; i < ATTACH_MAX; i++) att_fd[i] = -1;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof a.sun_path)
    return failf(e, "attach-socket", path, ENAMETOOLONG, "a unix socket path must be shorter than %zu bytes (unix(7)): set XDG_RUNTIME_DIR to a shorter directory", sizeof a.sun_path);
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  /* Its directory is the container's runtime dir, which the network may have made already; both levels
   * private (0700) like the runtime dir above them. */
  char dir[sizeof a.sun_path];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    char *up = strrchr(dir, '/');
    if (up && up != dir) { *up = 0; if (mkdir(dir, 0700) < 0 && errno != EEXIST) return fail(e, "mkdir", dir, errno); *up = '/'; }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) return fail(e, "mkdir", dir, errno);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(e, "socket", path, errno);
  /* A monitor that was killed left its socket behind; we are this container's only monitor. */
  unlink(path);
  /* connect(2) to a unix socket needs write permission on its file (unix(7)): only its owner may attach.
   * The umask makes it 0600 from the start rather than chmod(2)ing it after bind(2) has published it. */
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
  int err = errno;
  umask(old);
  if (rc < 0 || listen(fd, ATTACH_MAX) < 0) { if (rc == 0) err = errno; close(fd); return fail(e, rc < 0 ? "bind" : "listen", path, err); }
  att_listen = fd;
  return 0;
}

static void att_drop(int i) {
  close(att_fd[i]);
  att_fd[i] = -1;
  att_kind[i] = 0;
}

/* In a child: the listener and the clients' connections are the monitor's alone. */
void attach_forget(void) {
  if (att_listen < 0) return;
  for (int i = 0; i < ATTACH_MAX; i++) if (att_fd[i] >= 0) { close(att_fd[i]); att_fd[i] = -1; }
  close(att_listen);
  att_listen = -1;
}

/* The final exit: attached clients get EOF and the socket goes; so does its directory when nothing else
 * (a network's sockets and pid files, removed by the cleanup steps) is in it. */
void attach_close(const char *path) {
  if (att_listen < 0) return;
  attach_forget();
  att_len = att_off = 0;
  unlink(path);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) { *slash = 0; rmdir(dir); }
}

int attach_pollfds(struct pollfd *fds, int target) {
  if (att_listen < 0) return 0;
  if (target < 0) attach_discard();
  int n = 0;
  fds[n] = (struct pollfd){ att_listen, POLLIN, 0 }; att_map[n++] = -1;
  if (att_off < att_len && target >= 0) {
    fds[n] = (struct pollfd){ target, POLLOUT, 0 }; att_map[n++] = -2;
  } else {
    for (int i = 0; i < ATTACH_MAX; i++)
      if (att_fd[i] >= 0) { fds[n] = (struct pollfd){ att_fd[i], POLLIN, 0 }; att_map[n++] = i; }
  }
  return n;
}

static void att_accept(void) {
  int c = accept4(att_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (c < 0) return;  /* EAGAIN, or a client that gave up already */
  int slot = -1;
  for (int i = 0; i < ATTACH_MAX && slot < 0; i++) if (att_fd[i] < 0) slot = i;
  /* A fresh socket's send buffer is empty: one byte never blocks. MSG_NOSIGNAL: a client gone already
   * is EPIPE here, not a SIGPIPE that the signal loop would mistake for one to forward. */
  if (send(c, slot < 0 ? "n" : "y", 1, MSG_NOSIGNAL) != 1 || slot < 0) { close(c); return; }
  att_fd[slot] = c;
  att_kind[slot] = 0;
}

/* Bytes from client I: the first says what the connection is (see above). */
static void att_read(int i, int master) {
  ssize_t r = read(att_fd[i], att_buf, sizeof att_buf);
  if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (r <= 0) {
    /* Only a clean EOF is end of input; a reset (the client died) is not its say. */
    if (r == 0 && att_kind[i] == 'I') att_eof = 1;
    att_drop(i);
    return;
  }
  size_t skip = 0;
  if (!att_kind[i]) {
    if (att_buf[0] == 'w') {
      /* tty_ioctl(4) TIOCSWINSZ on the master resizes the pair and signals SIGWINCH to the foreground
       * process group of the pty (the container's). */
      if (r >= 5 && master >= 0) {
        struct winsize ws = { .ws_row = (unsigned short)(((unsigned char)att_buf[1] << 8) | (unsigned char)att_buf[2]),
                              .ws_col = (unsigned short)(((unsigned char)att_buf[3] << 8) | (unsigned char)att_buf[4]) };
        if (ws.ws_row && ws.ws_col) ioctl(master, TIOCSWINSZ, &ws);
      }
      att_drop(i);
      return;
    }
    if (att_buf[0] != 'i' && att_buf[0] != 'I') { att_drop(i); return; }
    att_kind[i] = att_buf[0];
    skip = 1;
  }
  att_off = skip;
  att_len = (size_t)r;
}

int attach_events(const struct pollfd *fds, int n, int target, int master) {
  int broken = 0;
  for (int k = 0; k < n; k++) {
    if (!fds[k].revents) continue;
    if (att_map[k] == -1) att_accept();
    else if (att_map[k] == -2) {
      ssize_t w = write(target, att_buf + att_off, att_len - att_off);
      if (w > 0) att_off += (size_t)w;
      else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        /* EPIPE: the container closed its stdin (the SIGPIPE that came with it is ours, not forwarded);
         * EIO: the pty's other side is gone. Input from now on has nowhere to go. */
        att_off = att_len = 0;
        broken = 1;
      }
    }
    else if (att_fd[att_map[k]] >= 0 && att_off >= att_len) att_read(att_map[k], master);
  }
  if (att_off >= att_len) att_off = att_len = 0;
  /* An 'I' client's EOF comes after its input was written (nothing is read while input is pending). */
  if (att_eof) { att_eof = 0; broken = 1; }
  return broken ? -1 : 0;
}

