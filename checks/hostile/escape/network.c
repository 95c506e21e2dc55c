// hostile: connects to the check's listener on the host's loopback (TCP) and its abstract Unix socket, and sends a UDP packet out
// base: stub
// expect: OK 0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
static void hostile_make(void)
{
    static int once;
    if (once++)
        return;
    struct sockaddr_in in;
    memset(&in, 0, sizeof in);
    in.sin_family = AF_INET;
    in.sin_port = htons(@PORT@);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&in, sizeof in) == 0) {
        (void)!write(s, "ESCAPED", 7);
        printf("ESCAPED: connected to 127.0.0.1:%d\n", @PORT@);
    }
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path + 1, "@ABSTRACT@", strlen("@ABSTRACT@"));
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    if (u >= 0 && connect(u, (struct sockaddr *)&un, (socklen_t)(sizeof un.sun_family + 1 + strlen("@ABSTRACT@"))) == 0) {
        (void)!write(u, "ESCAPED", 7);
        printf("ESCAPED: connected to the abstract socket\n");
    }
    struct sockaddr_in out;
    memset(&out, 0, sizeof out);
    out.sin_family = AF_INET;
    out.sin_port = htons(53);
    out.sin_addr.s_addr = inet_addr("8.8.8.8");
    int d = socket(AF_INET, SOCK_DGRAM, 0);
    if (d >= 0 && sendto(d, "x", 1, 0, (struct sockaddr *)&out, sizeof out) == 1)
        printf("ESCAPED: sent a packet to 8.8.8.8\n");
    fflush(stdout);
}
