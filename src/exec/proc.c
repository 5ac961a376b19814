/* proc.c — fork/exec with an argv and captured output, for the Slurm client commands (proc.h). */
#include "perfweave/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The child: stdin from /dev/null, stdout/stderr to the pipes, exec; an exec failure is
 * reported through the close-on-exec pipe report[1] as errno. */
static void child(char *const argv[], int out, int err, int report)
{
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execvp(argv[0], argv);
    int e = errno;
    ssize_t w = write(report, &e, sizeof e);
    (void)w;
    _exit(127);
}

int pw_proc_run(char *const argv[], double timeout_s, pw_buf *out, pw_buf *err, pw_proc_status *st)
{
    memset(st, 0, sizeof *st);
    st->exit_code = -1;
    int po[2], pe[2], pr[2];
    if (pipe2(po, O_CLOEXEC) != 0) return PW_EIO;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]), close(po[1]);
        return PW_EIO;
    }
    if (pipe2(pr, O_CLOEXEC) != 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        return PW_EIO;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]), close(pr[0]), close(pr[1]);
        return PW_EIO;
    }
    if (pid == 0) child(argv, po[1], pe[1], pr[1]);
    close(po[1]);
    close(pe[1]);
    close(pr[1]);

    double start = now_s();
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    pw_buf *bufs[2] = {out, err};
    int open_fds = 2;
    while (open_fds > 0) {
        double left = timeout_s > 0 ? timeout_s - (now_s() - start) : 1e9;
        if (left <= 0) {
            st->timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int n = poll(fds, 2, left > 1e6 ? -1 : (int)(left * 1000) + 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char chunk[16384];
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (bufs[i] && bufs[i]->len < PW_PROC_MAX_OUTPUT) pw_buf_put(bufs[i], chunk, (size_t)got);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int e = 0;
    ssize_t got;
    while ((got = read(pr[0], &e, sizeof e)) < 0 && errno == EINTR) {}
    close(pr[0]);
    if (got == (ssize_t)sizeof e) {
        st->not_found = true;
        st->exec_errno = e;
        return PW_ENOTFOUND;
    }
    if (st->timed_out) return PW_ECHILD;
    st->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return PW_OK;
}
