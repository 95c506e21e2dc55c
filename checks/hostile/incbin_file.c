// hostile: .incbin pulls a file of the machine into the object (the assembler reads it)
// base: stub
// expect: REFUSED 0 /inline assembly/
__asm__(".section .rodata\n.incbin \"/usr/include/stdio.h\"\n.previous\n");
static void hostile_make(void) {}
