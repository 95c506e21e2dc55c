/*
 * test_support.c: the seed of a test process, and the leak check of the
 * ASan suites (see test_support.h for how a suite uses them).
 *
 * Why the leak check is not simply done in .fini: Criterion 2.4.1 decides a
 * test's status when the body returns (the TEARDOWN phase) and only then runs
 * .fini. A failing cr_assert in .fini is printed but the test stays PASS, and
 * an exit(1), _exit(1) or abort() there gives PASS plus a warning that the
 * test "exited/crashed during its setup or teardown". So under LAB_LEAK_CHECK
 * this file also defines criterion_internal_test_main, the function each
 * Test()'s trampoline calls to run the body (criterion/internal/test.h). The
 * definition in the test executable wins over libcriterion's; it calls the
 * real one (dlsym RTLD_NEXT) with the body wrapped, so that in every test of
 * a suite whose .fini is test_check_leaks the leak check runs right after the
 * body returns, still in the body phase, where a failed assertion fails the
 * test. test_check_leaks itself, when Criterion later calls it as .fini, has
 * nothing left to do.
 */
#define _GNU_SOURCE 1 /* RTLD_NEXT */
#include "harness/support/test_support.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/rand.h"
#include "lab/sync.h"

/* ---- test_seed ----------------------------------------------------------- */

static lab_once seed_once = LAB_ONCE_INIT;
static uint64_t seed_value;   /* written once, by choose_seed */

static uint64_t seed_from_env_or_clock(void)
{
    const char *s = getenv("SEED");

    if (s != NULL && s[0] != '\0') {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno == ERANGE) {
            fprintf(stderr, "test_seed: SEED must be a decimal number below 2^64, not '%s'\n", s);
            fflush(stderr);
            abort();
        }
        return (uint64_t) v;
    }
    /* Two test processes started in the same microsecond still differ. */
    lab_rand r;
    lab_rand_seed(&r, (uint64_t) lab_now_us() ^ ((uint64_t) getpid() << 32));
    return lab_rand_next(&r);
}

static void choose_seed(void)
{
    seed_value = seed_from_env_or_clock();
}

int64_t test_latency_ms(int64_t ms)
{
    const char *scale = getenv("LAB_TIME_SCALE");
    long factor = scale ? strtol(scale, NULL, 10) : 1;
    return ms * (factor > 1 ? factor : 1);
}

bool test_latency_is_measured(void)
{
    return test_latency_ms(1) == 1;
}

uint64_t test_seed(void)
{
    lab_once_run(&seed_once, choose_seed);
    return seed_value;
}

/* ---- test_check_leaks ---------------------------------------------------- */

static void (*failure_reporter)(lab_failure_class cls, const char *reason);

void test_set_failure_reporter(void (*report)(lab_failure_class cls, const char *reason))
{
    failure_reporter = report;
}

/* The suite's own FAIL line, if it has a reporter, then Criterion's failure. */
#define FAIL_TEST(cls, ...)                                                   \
    do {                                                                      \
        char reason_[256];                                                    \
        snprintf(reason_, sizeof reason_, __VA_ARGS__);                       \
        if (failure_reporter)                                                 \
            failure_reporter(cls, reason_);                                   \
        cr_assert_fail("%s: %s", lab_class_name(cls), reason_);               \
    } while (0)

#if (defined(LAB_LEAK_CHECK) && LAB_LEAK_CHECK) || (defined(LAB_VALGRIND_CHECK) && LAB_VALGRIND_CHECK)

#include <criterion/criterion.h>
#include <dlfcn.h>
#if defined(LAB_LEAK_CHECK) && LAB_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#else
#include <valgrind/memcheck.h>
#endif

typedef void test_main_fn(void (*fn)(void));

static void (*current_body)(void);   /* the test's own body, this process */
static bool body_phase_over;         /* Criterion has left this test's body phase */

/*
 * In the test process Criterion's current test and suite are copies in its
 * shared arena, packed without regard to alignment: read them with memcpy
 * (a plain member access is what UBSan calls misaligned, and it is right).
 */
static bool extra_data(const void *data_ptr, struct criterion_test_extra_data *out)
{
    if (data_ptr == NULL)
        return false;
    memcpy(out, data_ptr, sizeof *out);
    return true;
}

static bool test_data(struct criterion_test_extra_data *out)
{
    struct criterion_test t;

    if (criterion_current_test == NULL)
        return false;
    memcpy(&t, criterion_current_test, sizeof t);
    return extra_data(t.data, out);
}

static bool suite_data(struct criterion_test_extra_data *out)
{
    struct criterion_suite s;

    if (criterion_current_suite == NULL)
        return false;
    memcpy(&s, criterion_current_suite, sizeof s);
    return extra_data(s.data, out);
}

static bool suite_wants_leak_check(void)
{
    struct criterion_test_extra_data d;

    return (test_data(&d) && d.fini == test_check_leaks)
        || (suite_data(&d) && d.fini == test_check_leaks);
}

#if defined(LAB_LEAK_CHECK) && LAB_LEAK_CHECK
static void check_leaks_now(void)
{
    /* LeakSanitizer prints the report (stacks of each leaked block) on stderr. */
    if (__lsan_do_recoverable_leak_check() != 0)
        FAIL_TEST(CLASS_LEAK, "LeakSanitizer found unreachable memory after the test "
                  "body (its report, with the allocation stacks, is above)");
}
#else
/* Under valgrind (VALGRIND=1): memcheck's errors and leaks so far. A report
 * at process exit would not fail a Criterion test, so ask now. */
static void check_leaks_now(void)
{
    if (!RUNNING_ON_VALGRIND)
        return;
    unsigned errors = VALGRIND_COUNT_ERRORS;
    if (errors > 0)
        FAIL_TEST(CLASS_MEMORY, "valgrind memcheck reported %u error(s) during the test (above)", errors);
    unsigned long leaked = 0, dubious = 0, reachable = 0, suppressed = 0;
    VALGRIND_DO_QUICK_LEAK_CHECK;
    VALGRIND_COUNT_LEAKS(leaked, dubious, reachable, suppressed);
    (void) dubious, (void) reachable, (void) suppressed;
    if (leaked > 0) {
        VALGRIND_DO_LEAK_CHECK;   /* the full report, with allocation stacks */
        FAIL_TEST(CLASS_LEAK, "valgrind memcheck found %lu bytes definitely lost after the test body",
                  leaked);
    }
}
#endif

static void body_then_check(void)
{
    current_body();
    if (suite_wants_leak_check())
        check_leaks_now();
}

static void param_body_then_check(void *param)
{
    void (*body)(void *) = (void (*)(void *)) current_body;

    body(param);
    if (suite_wants_leak_check())
        check_leaks_now();
}

void criterion_internal_test_main(void (*fn)(void))
{
    static test_main_fn *real;

    if (real == NULL) {
        void *sym = dlsym(RTLD_NEXT, "criterion_internal_test_main");
        if (sym == NULL) {
            fprintf(stderr, "test_support: cannot find Criterion's "
                    "criterion_internal_test_main: %s\n", dlerror());
            abort();
        }
        memcpy(&real, &sym, sizeof real);
    }

    struct criterion_test_extra_data d;
    bool param = test_data(&d) && d.param_ != NULL;

    current_body = fn;
    body_phase_over = false;
    real(param ? (void (*)(void)) param_body_then_check : body_then_check);
    body_phase_over = true;
}

void test_check_leaks(void)
{
    /* Called from a test body: check now. Called as .fini: nothing to do; the
     * check ran when the body returned, or the body did not return (a failed
     * assertion), the test has failed already, and whatever its abandoned
     * clean-up would have freed is no news. */
    if (!body_phase_over)
        check_leaks_now();
}

#else

void test_check_leaks(void)
{
}

#endif
