// hostile: a GNU indirect function: its resolver runs while the program loads, before any test
// base: stub
// expect: REFUSED 0 /indirect function/
static void real(void) {}
static void (*resolve(void))(void) { return real; }
static void chosen(void) __attribute__((ifunc("resolve")));
static void hostile_make(void)
{
    chosen();
}
