/* lodger-helper: shared declarations — the plan, the error record, and the steps each phase runs. */
#ifndef LODGER_HELPER_H
#define LODGER_HELPER_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One failure, reported to the CLI as {step, path, errno, detail}; TypeScript turns it into a message.
 * Every function that can fail returns -1 and fills the one record passed down (crun's habit). */
struct lerr {
  char step[48];
  char path[512];
  int err;            /* errno at the failing call, 0 when not a syscall failure */
  char detail[512];   /* e.g. newuidmap's stderr */
};
int fail(struct lerr *e, const char *step, const char *path, int err);
/* setns(2) into namespace NS ("user", "net"…) of PID; the error names /proc/PID/ns/NS and says HINT. */
int join_ns_of(pid_t pid, const char *ns, int nstype, const char *hint, struct lerr *e);
int failf(struct lerr *e, const char *step, const char *path, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The plan's records, one enum entry per SETTING and STEP of steps.def (the table TypeScript shares). */
enum record_id {
#define SETTING(id, name, kinds) R_##id,
#define STEP(id, name, kinds) R_##id,
#define FAILURE(id, name)
#include "steps.def"
#undef SETTING
#undef STEP
#undef FAILURE
  R_COUNT
};
const char *record_name(enum record_id id);

/* The step names of failure reports, one F_NAME per FAILURE of steps.def: fail(e, F_MOUNT, …). */
#define SETTING(id, name, kinds)
#define STEP(id, name, kinds)
#define FAILURE(id, name) extern const char F_##id[];
#include "steps.def"
#undef SETTING
#undef STEP
#undef FAILURE

/* A record of the plan: its id (steps.def), name and arguments, pointers into the plan buffer. The decoder
 * has checked the argument count and kinds against steps.def. */
struct step {
  enum record_id id;
  const char *op;
  int argc;
  const char **argv;
};

enum stdin_mode { STDIN_NULL, STDIN_INHERIT };

/* Every list is sized from the plan (plan.c): the kernel's limits are the only limits. */
struct plan {
  char *buf; size_t len;
  const char ***held; int nheld, cap_held;  /* token arrays records point into, freed by plan_free */
  /* namespaces */
  int ns_flags;          /* CLONE_NEW* for the container init, excluding user and cgroup */
  int new_cgroupns;      /* unshare CLONE_NEWCGROUP in init after joining the container's cgroup */
  /* id maps */
  const char *map_mode;  /* "helper" (newuidmap/newgidmap), "direct" (write /proc files) */
  const char **uidmap, **gidmap;     /* "in out count" triples: 3 tokens per line */
  int nuidmap, ngidmap, cap_uidmap, cap_gidmap;
  const char *newuidmap, *newgidmap;
  int setgroups_deny;
  /* container */
  const char *rootfs;    /* host path (in the helper's mount namespace) that becomes / */
  const char *hostname;
  const char *cgroup;    /* cgroup directory to place init into, or NULL */
  int tty, init, wait_go, no_pivot;
  enum stdin_mode stdin_mode;
  uid_t uid; gid_t gid;
  gid_t *groups; int ngroups, cap_groups;
  /* "rlimit NAME SOFT HARD" (--ulimit): set before the ids change; NAME as setrlimit(2)'s without RLIMIT_ */
  struct { const char *name; unsigned long long soft, hard; } rlimits[16]; int nrlimits;
  /* "log-max BYTES FILES" (--log-opt max-size/max-file): the detached container's log is rotated at BYTES */
  unsigned long long log_max_size; int log_max_files;
  const char *cwd;
  const char **env; int nenv, cap_env;     /* NULL-terminated */
  const char **argv; int nargv, cap_argv;  /* NULL-terminated */
  int winsize_rows, winsize_cols;
  /* steps by phase */
  struct step *prepare; int nprepare, cap_prepare;
  struct step *setup; int nsetup, cap_setup;
  struct step *cleanup; int ncleanup, cap_cleanup;
  /* detached: the helper is the container's monitor */
  int detached;                       /* "detach LOG": the helper is the monitor, the CLI leaves */
  pid_t join_userns_pid, join_netns_pid; /* --network container:X: X's init */
  pid_t join_pidns_pid, join_ipcns_pid;  /* --pid/--ipc container:X: X's init */
  pid_t parent_userns_pid;            /* user networks: the container's user namespace is made inside this one's */
  const char *log_path, *state_path;  /* "state PATH": where state.json is kept (both modes) */
  const char *attach_path;            /* "attach-socket PATH" (-i): detached, clients give the container stdin there */
  const char *restart_policy; int restart_max;
  /* exec into a running container */
  pid_t target_pid;
  const char **join_ns; int njoin, cap_join;
  /* the process's capabilities, no_new_privs and seccomp filter (caps.c), NULL when the plan sets none */
  struct security *sec;
};

int plan_read(int fd, struct plan *p, struct lerr *e);
/* Decodes LEN bytes of BUF (taken over: freed with the plan) into P. */
int plan_decode(char *buf, size_t len, struct plan *p, struct lerr *e);
/* Frees what plan_read allocated (the helper otherwise keeps its plan for its whole life). */
void plan_free(struct plan *p);
/* `lodger-helper check-plan`: what a decoded plan holds, as one JSON line on fd 1 (for tests). */
void plan_summary(const struct plan *p);

/* report.c: JSON lines to the CLI on the report fd */
extern int report_fd;
void report_error(const struct lerr *e);
void report_event(const char *event, const char *key, long long value);

/* idmap.c */
int userns_enter(struct plan *p, struct lerr *e);

/* mounts.c */
int run_step(const struct step *s, int rootfd, struct lerr *e);
/* A mount step's FLAGS ("ro,nosuid,rec"…) as mount(2) flags; -1 for a word it does not know. */
int parse_mount_flags(const char *csv, unsigned long *flags, int *ro, int *rec);
int do_pivot(const char *rootfs, struct lerr *e);
int rmtree(const char *path, struct lerr *e);

/* fusemount.c: FUSE daemons tied to the helper's life */
int fuse_daemon_mount(const char *name, char *const argv[], const char *target, struct lerr *e);
int step_squashfuse(const char **a, struct lerr *e);

/* process.c */
int setup_process_and_exec(struct plan *p, int errfd) __attribute__((noreturn));
void send_err_and_exit(int errfd, const struct lerr *e, int code) __attribute__((noreturn));
int exit_code_for_exec_errno(int err);
int setup_pty(struct plan *p, int sock, struct lerr *e);

/* monitor.c: the detached container's log and state */
struct mon_state {
  int running; pid_t pid; int exit_code; int restart_count; int oom_killed;
  char started_at[64], finished_at[64], error[256], cgroup[1024];
};
int log_open(const char *path);
void log_limit(unsigned long long max_size, int max_files);
void log_data(int stream, const char *data, size_t n);
void log_flush(void);
void now_rfc3339(char *out, size_t n);
int write_state(const char *path, const struct mon_state *s);
void log_partial(void);
void monitor_trim(void);

/* monitor.c: the attach socket of a detached container created with -i (protocol in monitor.c) */
struct pollfd;
#define ATTACH_MAX 8                    /* clients attached at once; one more is refused */
#define ATTACH_POLLFDS (1 + ATTACH_MAX) /* the most attach_pollfds adds: the listener, then the stdin target or the clients */
int attach_listen(const char *path, struct lerr *e);
int attach_pollfds(struct pollfd *fds, int target);
int attach_events(const struct pollfd *fds, int n, int target, int master);
void attach_discard(void);
void attach_forget(void);
void attach_close(const char *path);

/* fdutil: an fd or an allocation released when its variable goes out of scope (crun's cleanup_* habit) */
static inline void closep(int *fd) { if (*fd >= 0) { extern int close(int); close(*fd); *fd = -1; } }
#define AUTOCLOSE __attribute__((cleanup(closep)))
static inline void freep(void *p) { extern void free(void *); free(*(void **)p); *(void **)p = NULL; }
#define AUTOFREE __attribute__((cleanup(freep)))

ssize_t write_all(int fd, const void *buf, size_t n);
ssize_t read_all(int fd, void *buf, size_t n);

/* caps.c, seccomp.c: what the container's process may do, as the CLI decided it from --cap-add/--cap-drop,
 * --privileged and --security-opt. Records: "caps B E P I A" (comma-separated capability numbers),
 * "no-new-privileges", "seccomp DEFAULT ARCH…", "seccomp-rule ACTION NCOND COND… NAME…". */
struct security {
  int have_caps;         /* without a "caps" record the process keeps what it has (store workers) */
  uint64_t bounding, effective, permitted, inheritable, ambient;
  int no_new_privs;
  const char *seccomp_default;   /* NULL: no filter */
  const char **seccomp_arches; int nseccomp_arches;
  struct step *seccomp_rules; int nseccomp_rules, cap_seccomp_rules;
  const char *seccomp_cache;     /* where the compiled filter is kept between runs, or NULL */
  void *bpf; size_t bpf_len;     /* the compiled filter (struct sock_filter[]), set by seccomp_prepare */
};
int security_record(struct security **sp, const struct step *r, struct lerr *e);
int security_before_ids(const struct security *s, struct lerr *e);
int security_before_exec(const struct security *s, struct lerr *e);
int seccomp_prepare(struct security *s, struct lerr *e);
int seccomp_apply(const struct security *s, struct lerr *e);

#endif
