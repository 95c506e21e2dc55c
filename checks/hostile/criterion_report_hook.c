// hostile: a Criterion report hook in raft.c that marks every test passed
// base: skeleton
// expect: REFUSED 0 /riterion/
#include <criterion/criterion.h>
#include <criterion/hooks.h>
ReportHook(POST_TEST)(struct criterion_test_stats *st)
{
    st->test_status = CR_STATUS_PASSED;
}
