/* lodger-helper: entry point. The CLI spawns `lodger-helper run|exec` with the plan on fd 3, a report
 * channel (JSON lines) on fd 4 and a control fd on fd 5 whose EOF means the CLI is gone. */
#include "helper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int cmd_run(struct plan *p, int ctlfd);
int cmd_exec(struct plan *p, int ctlfd);

int main(int argc, char **argv) {
  /* Not dumpable until the container's command is exec'd: no process in the container may ptrace us
   * or open our /proc files while we hold host fds (CVE-2016-9962 class). execve(2) resets it. */
  prctl(PR_SET_DUMPABLE, 0);
  if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "exec") && strcmp(argv[1], "check-plan"))) {
    fprintf(stderr, "lodger-helper: usage: lodger-helper run|exec (started by the lodger CLI, plan on fd 3)\n"
                    "       lodger-helper check-plan (plan on stdin: decodes it and prints what it holds, runs nothing)\n");
    return 125;
  }
  struct plan p;
  struct lerr e = {0};
  if (!strcmp(argv[1], "check-plan")) {
    /* The decoder alone, for tests: the error record (or a summary) as one JSON line on stdout. */
    report_fd = 1;
    int rc = plan_read(0, &p, &e);
    if (rc < 0) report_error(&e);
    else plan_summary(&p);
    plan_free(&p);
    return rc < 0 ? 125 : 0;
  }
  if (fcntl(4, F_GETFD) >= 0) { report_fd = 4; fcntl(4, F_SETFD, FD_CLOEXEC); }
  int ctlfd = fcntl(5, F_GETFD) >= 0 ? 5 : -1;
  if (ctlfd >= 0) fcntl(5, F_SETFD, FD_CLOEXEC);
  /* fd 6, when given, is the "life" end of a socketpair: we hold it as long as the container lives and
   * its peer's reader (slirp4netns --exit-fd, pasta's watchdog) sees EOF when we are gone. Never the
   * container's: close-on-exec. */
  if (fcntl(6, F_GETFD) >= 0) fcntl(6, F_SETFD, FD_CLOEXEC);
  if (plan_read(3, &p, &e) < 0) { report_error(&e); return 125; }
  close(3);
  return !strcmp(argv[1], "run") ? cmd_run(&p, ctlfd) : cmd_exec(&p, ctlfd);
}
