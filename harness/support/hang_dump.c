/*
 * hang_dump.c: every thread's state and stack (see hang_dump.h). Runs on an
 * ordinary thread (the harness's watchdog), not in a signal handler.
 */
#define _GNU_SOURCE 1
#include "harness/support/hang_dump.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "harness/support/backtrace.h"
#include "lab/diag.h"
#include "lab/sync.h"

enum { MAX_THREADS = 512, CAPTURE_SIGNAL = SIGURG, GDB_LIMIT_MS = 30000, CAPTURE_LIMIT_MS = 1000 };

static lab_thread_view views[MAX_THREADS];   /* the dumping thread's scratch */
static char gdb_path[1024];
static int capture_pipe[2] = {-1, -1};
static void *capture_frames[BACKTRACE_MAX_FRAMES];
static volatile sig_atomic_t capture_count;

static void on_capture_signal(int sig)
{
    (void)sig;
    int saved = errno;
    capture_count = backtrace_capture(capture_frames, BACKTRACE_MAX_FRAMES, 1);
    char c = 1;
    ssize_t ignored = write(capture_pipe[1], &c, 1);
    (void)ignored;
    errno = saved;
}

void hang_dump_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    backtrace_init();
    backtrace_find_program("gdb", gdb_path, sizeof gdb_path);
    if (pipe(capture_pipe) == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_capture_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(CAPTURE_SIGNAL, &sa, NULL);
    }
}

/* ---- the table ------------------------------------------------------------ */

static void describe(const lab_thread_view *v, const lab_thread_view *all, char *out, size_t cap)
{
    if (v->state == LAB_THREAD_LOCKING) {
        const lab_thread_view *h = v->holder >= 0 ? &all[v->holder] : NULL;
        const char *holder_state = h ? lab_thread_state_name(h->state) : NULL;
        if (h && h->activity[0] && strcmp(h->waits_for, v->name) == 0)
            /* The classic, proven by the wait-for edge: the holder waits for
             * this very thread (the receiver of the apply channel), which
             * waits for the holder's mutex. */
            snprintf(out, cap, "waits for mutex '%s', held by '%s', which is %s while it holds it, "
                     "and only this thread can take what it sends (a deadlock: never hold a lock "
                     "across a send on the apply channel)", v->mutex, v->holder_name, h->activity);
        else if (h && h->activity[0])
            snprintf(out, cap, "waits for mutex '%s', held by '%s', which is %s%s%s%s while it holds it "
                     "(never hold a lock across a send on the apply channel)", v->mutex, v->holder_name,
                     h->activity, h->waits_for[0] ? " to '" : "", h->waits_for, h->waits_for[0] ? "'" : "");
        else if (v->holder_name[0])
            snprintf(out, cap, "waits for mutex '%s', held by '%s'%s%s%s", v->mutex, v->holder_name,
                     holder_state ? " (" : "", holder_state ? holder_state : "", holder_state ? ")" : "");
        else
            snprintf(out, cap, "waits for mutex '%s'", v->mutex);
    } else if (v->activity[0]) {
        snprintf(out, cap, "%s%s%s%s", v->activity, v->waits_for[0] ? " to '" : "", v->waits_for,
                 v->waits_for[0] ? "'" : "");
    } else if (v->state == LAB_THREAD_WAITING) {
        snprintf(out, cap, "waits on a condition variable (with mutex '%s')", v->mutex);
    } else {
        snprintf(out, cap, "%s", lab_thread_state_name(v->state));
    }
}

static size_t take_views(void)
{
    size_t n = lab_threads_view(views, MAX_THREADS);
    return n < MAX_THREADS ? n : MAX_THREADS;
}

void hang_describe_thread(pthread_t thread, char *out, size_t cap)
{
    size_t n = take_views();
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (pthread_equal(views[i].handle, thread))
            describe(&views[i], views, out, cap);
}

bool hang_find_deadlock(char *out, size_t cap)
{
    size_t n = take_views();
    for (size_t start = 0; start < n; start++) {
        /* Follow waits-for edges; a cycle through start is a deadlock. */
        size_t i = start, steps = 0;
        while (views[i].state == LAB_THREAD_LOCKING && views[i].holder >= 0 && steps <= n) {
            i = (size_t)views[i].holder;
            steps++;
            if (i != start)
                continue;
            size_t len = (size_t)snprintf(out, cap, "deadlock:");
            const char *sep = " ";
            do {
                const lab_thread_view *v = &views[i];
                if (len < cap)
                    len += (size_t)snprintf(out + len, cap - len, "%s'%s' waits for '%s', held by '%s'",
                                            sep, v->name, v->mutex, v->holder_name);
                sep = "; ";
                i = (size_t)v->holder;
            } while (i != start);
            return true;
        }
    }
    return false;
}

static void print_table(int fd, size_t n)
{
    char line[512], what[300];
    snprintf(line, sizeof line, "threads (%zu):\n", n);
    sbuf_write(fd, line);
    for (size_t k = n; k-- > 0;) {   /* oldest first */
        size_t i = k;
        describe(&views[i], views, what, sizeof what);
        snprintf(line, sizeof line, "  %-24s %s\n", views[i].name, what);
        sbuf_write(fd, line);
    }
    if (hang_find_deadlock(what, sizeof what)) {
        snprintf(line, sizeof line, "%s\n", what);
        sbuf_write(fd, line);
    }
}

/* ---- stacks by gdb --------------------------------------------------------- */

static const char *name_of_handle(unsigned long handle, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned long)views[i].handle == handle)
            return views[i].name;
    return NULL;
}

/* Keeps gdb's thread headers and frames; names each thread. */
static void print_gdb_line(int fd, const char *line, size_t n, const char *cwd, size_t cwd_len)
{
    char out[1024];
    sbuf b = {out, sizeof out, 0};
    if (strncmp(line, "Thread ", 7) == 0) {
        const char *p = strstr(line, "(Thread 0x");
        const char *name = name_of_handle(p ? strtoul(p + 8, NULL, 16) : 0, n);
        sbuf_str(&b, "\n");
        sbuf_str(&b, line);
        if (name) {
            sbuf_str(&b, "  <-- '");
            sbuf_str(&b, name);
            sbuf_str(&b, "'");
        }
    } else if (line[0] == '#') {
        /* "... at /abs/dir/raft/raft.c:12" -> "... at raft/raft.c:12" */
        const char *abs = cwd_len ? strstr(line, cwd) : NULL;
        sbuf_str(&b, "    ");
        if (abs) {
            char head[1024];
            size_t k = (size_t)(abs - line) < sizeof head - 1 ? (size_t)(abs - line) : sizeof head - 1;
            memcpy(head, line, k);
            head[k] = '\0';
            sbuf_str(&b, head);
            sbuf_str(&b, abs + cwd_len);
        } else {
            sbuf_str(&b, line);
        }
    } else {
        return;
    }
    sbuf_str(&b, "\n");
    sbuf_write(fd, out);
}

/* gdb cannot attach to a program running under valgrind. */
#if defined(LAB_VALGRIND_CHECK) && LAB_VALGRIND_CHECK
enum { UNDER_VALGRIND = 1 };
#else
enum { UNDER_VALGRIND = 0 };
#endif

static bool dump_with_gdb(int fd, size_t n)
{
    if (UNDER_VALGRIND || gdb_path[0] == '\0')
        return false;
#ifdef __linux__
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);   /* Yama: let our child attach */
#endif
    char pid_text[24];
    snprintf(pid_text, sizeof pid_text, "%ld", (long)getpid());
    char *const argv[] = {"gdb", "-q", "-nx", "-batch", "-p", pid_text,
                          "-ex", "set pagination off", "-ex", "set print thread-events off",
                          "-ex", "thread apply all bt", NULL};
    /* gdb stops every thread of this process, the reader too, while it is
     * attached: its output goes to a file, not to a pipe that could fill.
     * The pipe only tells us when gdb has exited. */
    char out_path[] = "/tmp/raftlab-gdb-XXXXXX";
    int out = mkstemp(out_path);
    if (out < 0)
        return false;
    unlink(out_path);
    int fds[2];
    if (pipe(fds) != 0) {
        close(out);
        return false;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        close(fds[0]);
        execv(gdb_path, argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        close(out);
        return false;
    }
    struct pollfd p = {fds[0], POLLIN, 0};
    char c;
    if (poll(&p, 1, GDB_LIMIT_MS) <= 0 || read(fds[0], &c, 1) != 0)
        kill(pid, SIGKILL);   /* still running: give up on it */
    close(fds[0]);
    waitpid(pid, NULL, 0);
    static char text[1 << 20];
    ssize_t len = pread(out, text, sizeof text - 1, 0);
    close(out);
    text[len > 0 ? len : 0] = '\0';
    if (strstr(text, "\nThread ") == NULL && strncmp(text, "Thread ", 7) != 0)
        return false;   /* could not attach (ptrace not permitted), or no threads */
    const char *cwd = backtrace_cwd_prefix();
    size_t cwd_len = strlen(cwd);
    sbuf_write(fd, "stacks (gdb):\n");
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        print_gdb_line(fd, line, n, cwd, cwd_len);
        if (!end)
            break;
        line = end + 1;
    }
    return true;
}

/* ---- stacks from inside ----------------------------------------------------- */

static bool wait_for_capture(void)
{
    struct pollfd p = {capture_pipe[0], POLLIN, 0};
    if (poll(&p, 1, CAPTURE_LIMIT_MS) <= 0)
        return false;
    char c;
    return read(capture_pipe[0], &c, 1) == 1;
}

static void dump_in_process(int fd, size_t n)
{
    char line[256];
    sbuf_write(fd, "stacks (from inside the process):\n");
    for (size_t k = n; k-- > 0;) {   /* oldest first */
        size_t i = k;
        snprintf(line, sizeof line, "\nthread '%s':\n", views[i].name);
        sbuf_write(fd, line);
        if (pthread_equal(views[i].handle, pthread_self())) {
            sbuf_write(fd, "    (the thread writing this dump)\n");
            continue;
        }
        if (capture_pipe[0] < 0 || pthread_kill(views[i].handle, CAPTURE_SIGNAL) != 0 ||
            !wait_for_capture()) {
            sbuf_write(fd, "    (no answer: the thread does not take signals where it is blocked)\n");
            continue;
        }
        void *frames[BACKTRACE_MAX_FRAMES];
        int count = capture_count;
        memcpy(frames, capture_frames, sizeof(void *) * (size_t)count);
        backtrace_print(fd, frames, count, NULL, 0);
    }
}

void hang_dump(int fd)
{
    hang_dump_init();
    fflush(stdout);
    size_t n = take_views();
    print_table(fd, n);
    const char *mode = getenv("LAB_HANG_DUMP");
    if (mode && strcmp(mode, "none") == 0)
        return;
    bool use_gdb = !(mode && strcmp(mode, "inprocess") == 0);
    if (use_gdb && dump_with_gdb(fd, n))
        return;
    if (use_gdb && gdb_path[0])
        sbuf_write(fd, "(gdb could not attach; taking the stacks from inside)\n");
    dump_in_process(fd, n);
}
