/* lodger-helper: what the detached-container monitor keeps — the container's log (docker's json-file
 * lines: {"log","stream","time"}) and its state.json, both written so a reader never sees half a record. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static char pending[2][16384];
static size_t pending_len[2];

int log_open(const char *path) {
  log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  return log_fd;
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

void log_flush(void) {
  for (int s = 0; s < 2; s++) if (pending_len[s]) { emit_line(s, pending[s], pending_len[s]); pending_len[s] = 0; }
  if (log_fd >= 0) fsync(log_fd);
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
