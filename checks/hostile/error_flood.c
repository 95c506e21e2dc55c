// hostile: millions of compiler errors: an enormous build log
// base: none
// expect: BUILD-ERROR 0 /error/
#define E1 int x = "a" -;
#define E2 E1 E1 E1 E1 E1 E1 E1 E1 E1 E1
#define E3 E2 E2 E2 E2 E2 E2 E2 E2 E2 E2
#define E4 E3 E3 E3 E3 E3 E3 E3 E3 E3 E3
E4 E4 E4 E4 E4 E4 E4 E4 E4 E4
