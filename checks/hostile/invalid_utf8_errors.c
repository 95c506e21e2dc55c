// hostile: compiler errors full of invalid UTF-8 (the grader crashed decoding them)
// base: none
// expect: BUILD-ERROR 0 /error/
#error "â‚¬â‚¬ \xff\xfe Ã¿ invalid bytes follow: Ã¿Ã¾"
ÿþ€ not utf-8 Ã(
