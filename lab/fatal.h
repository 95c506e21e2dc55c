/*
 * fatal.h: stopping on a programming error with one clear message.
 *
 * An unknown RPC method, a malformed message, a use after cleanup: these are
 * bugs in the caller, not conditions to recover from. lab_fatal prints
 * "fatal: <message>" on stderr and aborts, so the test fails at the line that
 * broke and a core or gdb shows where. Tests (and the harness) may install a
 * hook that sees the message first; the hook must not return normally if it
 * wants to keep the process alive (it may exit or longjmp on the main thread).
 */
#ifndef LAB_FATAL_H
#define LAB_FATAL_H

#include <stddef.h>

typedef void (*lab_fatal_hook)(const char *message);

_Noreturn void lab_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lab_set_fatal_hook(lab_fatal_hook hook);   /* NULL restores the default */

/* malloc/realloc/calloc that stop with a message instead of returning NULL. */
void *lab_malloc(size_t size);
void *lab_calloc(size_t count, size_t size);
void *lab_realloc(void *p, size_t size);
char *lab_strdup(const char *s);
/* A malloc'd copy of len bytes of src: never NULL (one byte allocated when
 * len is 0, and src may then be NULL). */
void *lab_memdup(const void *src, size_t len);

#endif
