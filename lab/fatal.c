/*
 * fatal.c: one clear message, then abort (see fatal.h).
 */
#include "lab/fatal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Atomic(lab_fatal_hook) fatal_hook;

void lab_set_fatal_hook(lab_fatal_hook hook)
{
    atomic_store(&fatal_hook, hook);
}

void lab_fatal(const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);

    lab_fatal_hook hook = atomic_load(&fatal_hook);
    if (hook)
        hook(message);
    fflush(stdout);
    fprintf(stderr, "fatal: %s\n", message);
    fflush(stderr);
    abort();
}

void *lab_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        lab_fatal("out of memory (malloc of %zu bytes)", size);
    return p;
}

void *lab_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        lab_fatal("out of memory (calloc of %zu x %zu bytes)", count, size);
    return p;
}

void *lab_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        lab_fatal("out of memory (realloc to %zu bytes)", size);
    return q;
}

void *lab_memdup(const void *src, size_t len)
{
    void *copy = lab_malloc(len);   /* lab_malloc(0) allocates a byte */
    if (len > 0)
        memcpy(copy, src, len);
    return copy;
}

char *lab_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = lab_malloc(n);
    memcpy(copy, s, n);
    return copy;
}
