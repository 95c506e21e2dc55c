/*
 * tsan_shim.c: lets Criterion start under ThreadSanitizer. Linked into the
 * test binaries of TSan builds only (SAN=thread in the Makefile).
 *
 * What goes wrong (Criterion issue #274, "Criterion aborts ... when
 * ThreadSanitizer is used", open since 2018): at start-up Criterion's sandbox
 * library, BoxFort (compiled into libcriterion), creates its "inheritable
 * arena" in bxf_arena_init (BoxFort src/arena.c). It picks the address as
 *
 *     base = 0x200000000000 + (rand_r(&mmap_seed) & 0x3fffff) * 16 MiB
 *
 * i.e. somewhere in [0x2000'0000'0000, 0x6000'0000'0000), checks with
 * mincore() that the pages there are free, and maps them MAP_FIXED. It tries
 * 10 addresses, then gives up with errno still at the EAGAIN its page check
 * preset: "criterion: Could not initialize inheritable arena: Resource
 * temporarily unavailable", abort. On x86_64 Linux TSan has already mapped
 * almost all of that range as shadow, meta-shadow or PROT_NONE guard; the
 * only hole it leaves to the program is its "mid app" range
 * [0x5500'0000'0000, 0x5680'0000'0000) (0x5a00'0000'0000 in LLVM >= 15),
 * about 2% of the candidates, where PIE executables are loaded.
 *
 * The fix: this file defines rand_r, which the executable exports ahead of
 * libc (and of TSan's own rand_r interceptor). It forwards every call to the
 * next rand_r, unchanged, except when the caller is BoxFort's arena code
 * (the return address lies in libcriterion, whose only rand_r call is that
 * one, or in bxf_arena_init when BoxFort is linked statically). Then it
 * rewrites the low 22 bits of the result, the only ones the arena uses, so
 * that the base lands in [0x5500'0000'0000, 0x5540'0000'0000): inside the mid
 * app range of every TSan layout, and below the lowest address the kernel
 * loads a PIE at (0x5555'5555'4000, +ASLR), which matters because each test
 * child re-maps the arena at the same address with MAP_FIXED. The bits above
 * stay random, so a retry still picks another 16 MiB slot.
 *
 * aarch64: no rand_r value can help. BoxFort's range is, in every TSan
 * aarch64 layout (39-, 42- and 48-bit VMA), either beyond the address space
 * or TSan shadow and guard. Elsewhere than x86_64 Linux this file therefore
 * defines nothing, and TSan test runs there need another Criterion.
 */
#if defined(__linux__) && defined(__x86_64__)

#define _GNU_SOURCE 1 /* dladdr, RTLD_NEXT */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>

int rand_r(unsigned int *seedp);

/* BoxFort's constants (src/arena.c, 64-bit). */
#define ARENA_BASE 0x200000000000ull
#define ARENA_SLOT (1ull << 24)
#define ARENA_MASK 0x3fffffu

/* Where we want the arena: [0x5500'0000'0000, 0x5540'0000'0000). */
#define WANT_LO 0x550000000000ull
#define WANT_HI 0x554000000000ull
#define SLOT_LO ((unsigned int) ((WANT_LO - ARENA_BASE) / ARENA_SLOT))
#define SLOTS   ((unsigned int) ((WANT_HI - WANT_LO) / ARENA_SLOT))

typedef int rand_r_fn(unsigned int *);

/* The standard's example generator, used only if the next rand_r cannot be
 * found. Any pseudo-random sequence satisfies rand_r's contract. */
static int fallback_rand_r(unsigned int *seedp)
{
    unsigned int next = *seedp;
    unsigned int result;

    next = next * 1103515245u + 12345u;
    result = (next / 65536u) % 2048u;
    next = next * 1103515245u + 12345u;
    result = (result << 10) ^ ((next / 65536u) % 1024u);
    next = next * 1103515245u + 12345u;
    result = (result << 10) ^ ((next / 65536u) % 1024u);
    *seedp = next;
    return (int) result;
}

static rand_r_fn *next_rand_r(void)
{
    static rand_r_fn *_Atomic cached;
    rand_r_fn *fn = cached;

    if (fn == NULL) {
        void *sym = dlsym(RTLD_NEXT, "rand_r");
        fn = fallback_rand_r;
        if (sym != NULL)
            memcpy(&fn, &sym, sizeof fn);
        cached = fn;
    }
    return fn;
}

static int called_from_boxfort_arena(void *ret)
{
    Dl_info info;

    if (ret == NULL || dladdr(ret, &info) == 0)
        return 0;
    if (info.dli_sname != NULL && strcmp(info.dli_sname, "bxf_arena_init") == 0)
        return 1;
    return info.dli_fname != NULL && strstr(info.dli_fname, "libcriterion") != NULL;
}

int rand_r(unsigned int *seedp)
{
    int value = next_rand_r()(seedp);

    if (called_from_boxfort_arena(__builtin_return_address(0))) {
        unsigned int v = (unsigned int) value;
        unsigned int slot = SLOT_LO + v % SLOTS;
        value = (int) ((v & ~ARENA_MASK) | slot);
    }
    return value;
}

#else

/* Nothing to do here (see above); keeps the translation unit non-empty. */
typedef int tsan_shim_unused;

#endif
