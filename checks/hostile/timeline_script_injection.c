// hostile: log lines and marks that would be HTML and script on the instructor's timeline page: </script><script>, <!--, <img onerror>
// base: stub
// expect: OK 0 /LIVENESS/
// timeline: page /<\/script><script>document\.title='pwned'/
#include "lab/debug.h"
static void hostile_make(void)
{
    DPRINTF(VOTE, 0, "</script><script>document.title='pwned'</script><!--");
    DPRINTF(VOTE, 1, "<img src=x onerror=\"document.title='pwned'\"> --> ]]> &lt;b&gt; \u2028");
    DANNOTATE(2, "</SCRIPT ><script>document.title='pwned'</script>");
}
