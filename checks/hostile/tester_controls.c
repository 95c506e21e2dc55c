// hostile: makes the network reliable again from inside Raft (a tester-only function)
// base: stub
// expect: REFUSED 0 /calls labrpc_network_set_reliable, a framework function a Raft may not call/
#include "labrpc/labrpc.h"
static labrpc_network *volatile net;
static void hostile_make(void)
{
    if (net)
        labrpc_network_set_reliable(net, true);
}
