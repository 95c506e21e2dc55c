// hostile: carries its own copy of a framework function so the linker skips the library's object
// base: skeleton
// expect: REFUSED 0 /raft\.c defines lab_cpu_seconds, a framework function/
double lab_cpu_seconds(void);
double lab_cpu_seconds(void)
{
    return 0.0;
}
