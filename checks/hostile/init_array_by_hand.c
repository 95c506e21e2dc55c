// hostile: a pointer placed in .init_array by hand (a constructor without the attribute)
// base: stub
// expect: REFUSED 0 /\.init_array/
static void early(void) {}
__attribute__((used, section(".init_array"))) static void (*const early_ptr)(void) = early;
static void hostile_make(void) {}
