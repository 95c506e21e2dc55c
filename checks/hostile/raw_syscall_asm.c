// hostile: a raw system call in inline assembly (no symbol for an allowlist to see)
// base: stub
// expect: REFUSED 0 /raw system call|inline assembly/
static void hostile_make(void)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(39L) : "rcx", "r11", "memory");
    (void)ret;
}
