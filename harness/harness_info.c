/*
 * harness_info.c: the Raft test binary's main. Criterion's own, plus two
 * flags through which the Makefile and the Python tools read the lab's
 * policy from its one home (harness/lab_policy.h) instead of copying it:
 *
 *     raft-tests-solution --lab-info            JSON: classes, limits, tests,
 *                                               each part's outer limit
 *     raft-tests-solution --lab-part-limit=2B   that part's outer limit, in s
 *
 * A part's outer limit is its number of tests times Criterion's per-test
 * timeout, plus a minute: adding a test to a part raises it.
 */
#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>
#include <stdio.h>
#include <string.h>

#include "harness/lab_policy.h"

enum { MAX_PARTS = 8 };

typedef struct part {
    char name[8];   /* "2A" */
    int tests;
} part;

/* "raft2A" -> "2A"; NULL for a suite that is not one of the lab's parts. */
static const char *part_of_suite(const char *suite)
{
    return suite && strncmp(suite, "raft", 4) == 0 ? suite + 4 : NULL;
}

static int collect_parts(struct criterion_test_set *set, part *parts)
{
    int count = 0;   /* not n: FOREACH_SET declares an n of its own */
    struct criterion_suite_set *s;
    FOREACH_SET(s, set->suites) {
        const char *name = part_of_suite(s->suite.name);
        if (name == NULL || count == MAX_PARTS || s->tests == NULL)
            continue;
        snprintf(parts[count].name, sizeof parts[count].name, "%s", name);
        parts[count].tests = (int)s->tests->size;
        count++;
    }
    return count;
}

static int part_limit_s(const part *p)
{
    return p->tests * LAB_SUITE_TIMEOUT_S + LAB_PART_EXTRA_S;
}

/* s as a JSON string: quoted, with quotes, backslashes and control
 * characters escaped (a class's meaning is prose and may hold any of them). */
static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_info(struct criterion_test_set *set)
{
    part parts[MAX_PARTS];
    int nparts = collect_parts(set, parts);
    printf("{\n  \"schema\": 1,\n  \"classes\": [");
    for (int c = 0; c < LAB_CLASS_COUNT; c++) {
        printf("%s\n    {\"name\": ", c ? "," : "");
        print_json_string(lab_class_name((lab_failure_class)c));
        printf(", \"meaning\": ");
        print_json_string(lab_class_meaning((lab_failure_class)c));
        printf("}");
    }
    printf("\n  ],\n  \"limits\": {\"test_s\": %d, \"watch_s\": %d, \"hang_grace_s\": %d, "
           "\"suite_timeout_s\": %d, \"part_extra_s\": %d, \"runner_wall_s\": %d, "
           "\"runner_cpu_s\": %d, \"lab_s\": %d},\n",
           LAB_TEST_LIMIT_S, LAB_WATCH_LIMIT_S, LAB_HANG_GRACE_S, LAB_SUITE_TIMEOUT_S,
           LAB_PART_EXTRA_S, LAB_RUNNER_WALL_S, LAB_RUNNER_CPU_S, LAB_LAB_LIMIT_S);
    printf("  \"parts\": [");
    for (int k = 0; k < nparts; k++)
        printf("%s\n    {\"name\": \"%s\", \"tests\": %d, \"limit_s\": %d}", k ? "," : "",
               parts[k].name, parts[k].tests, part_limit_s(&parts[k]));
    printf("\n  ],\n  \"tests\": [");
    int shown = 0;
    struct criterion_suite_set *s;
    FOREACH_SET(s, set->suites) {
        const char *name = part_of_suite(s->suite.name);
        if (name == NULL || s->tests == NULL)
            continue;
        struct criterion_test *t;
        FOREACH_SET(t, s->tests) {
            printf("%s\n    ", shown++ ? "," : "");
            char test[128];
            snprintf(test, sizeof test, "%s/%s", name, t->name);
            print_json_string(test);
        }
    }
    printf("\n  ],\n  \"original_tests\": %d,\n  \"extra_tests\": [", LAB_ORIGINAL_TESTS);
    int extras = 0;
#define LAB_PRINT_EXTRA(part, test, catches)                                                    \
    printf("%s\n    {\"test\": \"%s/%s\", \"catches\": \"%s\"}", extras++ ? "," : "", part, test, \
           catches);
    LAB_EXTRA_TESTS(LAB_PRINT_EXTRA)
#undef LAB_PRINT_EXTRA
    printf("\n  ]\n}\n");
}

/* 0 when it printed; 1 when the part is unknown. */
static int print_part_limit(struct criterion_test_set *set, const char *wanted)
{
    part parts[MAX_PARTS];
    int nparts = collect_parts(set, parts);
    for (int k = 0; k < nparts; k++)
        if (strcmp(parts[k].name, wanted) == 0) {
            printf("%d\n", part_limit_s(&parts[k]));
            return 0;
        }
    fprintf(stderr, "--lab-part-limit: no part '%s' in this binary\n", wanted);
    return 1;
}

int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (argc == 2 && strcmp(argv[1], "--lab-info") == 0)
        print_info(tests);
    else if (argc == 2 && strncmp(argv[1], "--lab-part-limit=", 17) == 0)
        result = print_part_limit(tests, argv[1] + 17);
    else if (criterion_handle_args(argc, argv, true))
        result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    return result;
}
