// hostile: compiler errors that set the terminal's title, clear the screen and draw a banner of full marks
// base: none
// expect: BUILD-ERROR 0 /error: #error "\\x1b\]0;owned\\x07\\x1b\[2J\\x1b\[HALL TESTS PASSED 100/100 \\x9b31m"/
#error "]0;owned[2J[HALL TESTS PASSED 100/100 31m"
