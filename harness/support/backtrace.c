/*
 * backtrace.c: capture and symbolise one thread's stack (see backtrace.h).
 *
 * Why by hand: the report is often written from a signal handler on a
 * thread that just crashed, where stdio and malloc may be broken. So the
 * formatting uses fixed buffers and write(2), and the symboliser runs in a
 * child process (fork, execve), which reads the executable's debug
 * information and answers on a pipe. Frames outside the executable (the C
 * library) are named from the dynamic symbol table with dladdr.
 */
#define _GNU_SOURCE 1 /* dladdr */
#include "harness/support/backtrace.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <elf.h>
#endif

extern char **environ;

static char exe_path[1024];       /* the test executable */
static const void *exe_base;      /* where it is loaded */
static bool exe_is_pie;           /* addresses are given to the symboliser as offsets */
static char symboliser[1024];     /* addr2line or atos; "" if none */
static char cwd_prefix[1024];     /* stripped from file names, with its '/' */
static atomic_flag symboliser_busy = ATOMIC_FLAG_INIT;

/* ---- string building, async-signal-safe ---------------------------------- */

void sbuf_str(sbuf *b, const char *s)
{
    while (s && *s && b->len + 1 < b->cap)
        b->buf[b->len++] = *s++;
    b->buf[b->len] = '\0';
}

void sbuf_hex(sbuf *b, unsigned long long x)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[x & 15];
        x >>= 4;
    } while (x && n < (int)sizeof tmp);
    sbuf_str(b, "0x");
    while (n > 0 && b->len + 1 < b->cap)
        b->buf[b->len++] = tmp[--n];
    b->buf[b->len] = '\0';
}

void sbuf_dec(sbuf *b, long long x)
{
    char tmp[24];
    int n = 0;
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < (int)sizeof tmp);
    if (x < 0)
        sbuf_str(b, "-");
    while (n > 0 && b->len + 1 < b->cap)
        b->buf[b->len++] = tmp[--n];
    b->buf[b->len] = '\0';
}

void sbuf_write(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t w = write(fd, s, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        len -= (size_t)w;
    }
}

/* ---- setup ---------------------------------------------------------------- */

bool backtrace_find_program(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && (size_t)snprintf(out, n, "%.*s/%s", (int)len, path, name) < n &&
            access(out, X_OK) == 0)
            return true;
        path += len + (path[len] == ':');
    }
    out[0] = '\0';
    return false;
}

void backtrace_init(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    Dl_info info;
    if (dladdr((void *)backtrace_init, &info) != 0) {
        exe_base = info.dli_fbase;
        snprintf(exe_path, sizeof exe_path, "%s", info.dli_fname ? info.dli_fname : "");
    }
#ifdef __linux__
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n > 0)
        exe_path[n] = '\0';
    exe_is_pie = exe_base != NULL && ((const Elf64_Ehdr *)exe_base)->e_type == ET_DYN; /* e_type: same place in 32 and 64 bits */;
    backtrace_find_program("addr2line", symboliser, sizeof symboliser);
#elif defined(__APPLE__)
    backtrace_find_program("atos", symboliser, sizeof symboliser);
#endif
    if (getcwd(cwd_prefix, sizeof cwd_prefix - 1) != NULL)
        strcat(cwd_prefix, "/");
    else
        cwd_prefix[0] = '\0';
    void *warm[4];
    backtrace(warm, 4);   /* loads the unwinder now, not in a signal handler */
}

int backtrace_capture(void **frames, int max, int skip)
{
    void *all[BACKTRACE_MAX_FRAMES + 16];
    int n = backtrace(all, BACKTRACE_MAX_FRAMES + 16);
    int k = 0;
    for (int i = skip + 1; i < n && k < max; i++)   /* +1: this function */
        frames[k++] = all[i];
    return k;
}

/* ---- symbolising ---------------------------------------------------------- */

/* Runs the symboliser on the executable's frames; its output in out. */
static bool run_symboliser(void *const *pcs, int n, char *out, size_t cap)
{
    static char addr_text[BACKTRACE_MAX_FRAMES][24];
    char base_text[24];
    const char *argv[BACKTRACE_MAX_FRAMES + 12];
    int a = 0;
    if (symboliser[0] == '\0' || exe_path[0] == '\0' || n == 0)
        return false;
#ifdef __APPLE__
    sbuf bb = {base_text, sizeof base_text, 0};
    sbuf_hex(&bb, (unsigned long long)(uintptr_t)exe_base);
    argv[a++] = "atos";
    argv[a++] = "-o";
    argv[a++] = exe_path;
    argv[a++] = "-l";
    argv[a++] = base_text;
#else
    (void)base_text;
    argv[a++] = "addr2line";
    argv[a++] = "-f";
    argv[a++] = "-i";
    argv[a++] = "-p";
    argv[a++] = "-e";
    argv[a++] = exe_path;
#endif
    for (int i = 0; i < n && i < BACKTRACE_MAX_FRAMES; i++) {
        uintptr_t pc = (uintptr_t)pcs[i];
        if (exe_is_pie)
            pc -= (uintptr_t)exe_base;
        sbuf b = {addr_text[i], sizeof addr_text[i], 0};
        sbuf_hex(&b, pc);
        argv[a++] = addr_text[i];
    }
    argv[a] = NULL;

    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        close(fds[0]);
        execve(symboliser, (char *const *)argv, environ);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len + 1 >= cap)
            break;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return len > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

const char *backtrace_cwd_prefix(void)
{
    return cwd_prefix;
}

static const char *short_path(const char *s)
{
    size_t n = strlen(cwd_prefix);
    return n > 0 && strncmp(s, cwd_prefix, n) == 0 ? s + n : s;
}

/* Frames of the reporting machinery itself, never "where it happened". */
static bool is_support_frame(const char *line)
{
    static const char *const skip[] = {"harness/support/", "harness/harness_report.c",
                                       "harness/harness_watchdog.c", "lab/fatal.c", "??"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strstr(line, skip[i]))
            return true;
    return false;
}

/* "func at /abs/file.c:12 (discriminator 3)" -> "func at file.c:12" into b. */
static void append_symbolised(sbuf *b, const char *line, size_t len)
{
    char tmp[512];
    size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
    memcpy(tmp, line, n);
    tmp[n] = '\0';
    char *disc = strstr(tmp, " (discriminator");
    if (disc)
        *disc = '\0';
    char *at = strstr(tmp, " at ");
    if (at == NULL) {
        sbuf_str(b, tmp);
        return;
    }
    *at = '\0';
    sbuf_str(b, tmp);
    sbuf_str(b, " at ");
    sbuf_str(b, short_path(at + 4));
}

/* Frames of the framework: a fallback for "where", if no student frame. */
static bool is_framework_frame(const char *line)
{
    static const char *const framework[] = {" at lab/", " at labrpc/", " at persister/",
                                            " at applych/applych.c", " at lab/debug.c", " at tests/"};
    for (size_t i = 0; i < sizeof framework / sizeof framework[0]; i++)
        if (strstr(line, framework[i]))
            return true;
    return false;
}

/* "function (file:line)" from "function at file:line". */
static void set_first_user(char *first_user, size_t cap, const char *text)
{
    sbuf b = {first_user, cap, 0};
    const char *at = strstr(text, " at ");
    if (at == NULL) {
        sbuf_str(&b, text);
        return;
    }
    char fn[128];
    size_t n = (size_t)(at - text) < sizeof fn - 1 ? (size_t)(at - text) : sizeof fn - 1;
    memcpy(fn, text, n);
    fn[n] = '\0';
    sbuf_str(&b, fn);
    sbuf_str(&b, " (");
    sbuf_str(&b, at + 4);
    sbuf_str(&b, ")");
}

static void print_frame_line(int fd, int index, const char *text, bool inlined)
{
    char line[640];
    sbuf b = {line, sizeof line, 0};
    sbuf_str(&b, inlined ? "        " : "    #");
    if (!inlined)
        sbuf_dec(&b, index);
    sbuf_str(&b, inlined ? "inlined in " : " ");
    sbuf_str(&b, text);
    sbuf_str(&b, "\n");
    sbuf_write(fd, line);
}

/* A frame outside the executable, or when nothing better is known. */
static void describe_by_dladdr(void *pc, char *out, size_t cap)
{
    sbuf b = {out, cap, 0};
    Dl_info info;
    if (dladdr(pc, &info) != 0 && info.dli_sname != NULL) {
        sbuf_str(&b, info.dli_sname);
        sbuf_str(&b, "+");
        sbuf_hex(&b, (unsigned long long)((uintptr_t)pc - (uintptr_t)info.dli_saddr));
    } else {
        sbuf_hex(&b, (unsigned long long)(uintptr_t)pc);
    }
    if (dladdr(pc, &info) != 0 && info.dli_fname != NULL) {
        const char *slash = strrchr(info.dli_fname, '/');
        sbuf_str(&b, " in ");
        sbuf_str(&b, slash ? slash + 1 : info.dli_fname);
    }
}

static bool in_executable(void *pc)
{
    Dl_info info;
    return dladdr(pc, &info) != 0 && info.dli_fbase == exe_base;
}

void backtrace_print(int fd, void *const *frames, int n, char *first_user, size_t first_user_len)
{
    static char output[32768];
    void *exe_pcs[BACKTRACE_MAX_FRAMES];
    int exe_n = 0;
    if (first_user && first_user_len > 0)
        first_user[0] = '\0';
    if (n > BACKTRACE_MAX_FRAMES)
        n = BACKTRACE_MAX_FRAMES;
    /* A return address points after the call: look up the call itself. */
    for (int i = 0; i < n; i++)
        if (in_executable(frames[i]))
            exe_pcs[exe_n++] = (char *)frames[i] - 1;

    char fallback[320] = "";
    bool locked = !atomic_flag_test_and_set(&symboliser_busy);
    bool symbolised = locked && run_symboliser(exe_pcs, exe_n, output, sizeof output);
    const char *cursor = output;
    for (int i = 0; i < n; i++) {
        char text[640];
        if (symbolised && in_executable(frames[i]) && *cursor) {
            /* This frame's lines: the first, then any " (inlined by) ..." */
            bool first = true;
            while (*cursor && (first || strncmp(cursor, " (inlined by) ", 14) == 0)) {
                const char *end = strchr(cursor, '\n');
                size_t len = end ? (size_t)(end - cursor) : strlen(cursor);
                const char *body = first ? cursor : cursor + 14;
                size_t body_len = first ? len : len - 14;
                sbuf b = {text, sizeof text, 0};
                append_symbolised(&b, body, body_len);
                print_frame_line(fd, i, text, !first);
                if (first_user && first_user[0] == '\0' && !is_support_frame(text)) {
                    if (!is_framework_frame(text))
                        set_first_user(first_user, first_user_len, text);
                    else if (fallback[0] == '\0')
                        set_first_user(fallback, sizeof fallback, text);
                }
                cursor = end ? end + 1 : cursor + len;
                first = false;
            }
        } else {
            describe_by_dladdr(frames[i], text, sizeof text);
            print_frame_line(fd, i, text, false);
        }
    }
    if (first_user && first_user[0] == '\0' && fallback[0] != '\0')
        set_first_user(first_user, first_user_len, fallback);
    if (locked)
        atomic_flag_clear(&symboliser_busy);
}
