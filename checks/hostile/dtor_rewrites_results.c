// hostile: a destructor that runs after the tests, outside any test
// base: skeleton
// expect: REFUSED 0 /has a \.fini_array section: constructors and destructors/
__attribute__((destructor)) static void after_all(void)
{
    printf("all tests passed\n");
}
