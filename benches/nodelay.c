// Experiment only (benches/reminders.sh, docs/benchmarks.md section 3): an LD_PRELOAD shim that
// sets TCP_NODELAY on every TCP socket the process connects, to measure Convene's outbox without
// the Nagle / delayed-ACK stall of lettre 0.11.23. Not part of Convene.
//
//   gcc -shared -fPIC -O2 -o /tmp/nodelay.so benches/nodelay.c -ldl
//   BENCH_SERVER_PRELOAD=/tmp/nodelay.so bash benches/reminders.sh
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static int (*real_connect)(int, const struct sockaddr *, socklen_t);
    if (!real_connect) real_connect = dlsym(RTLD_NEXT, "connect");
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
        int type = 0; socklen_t tl = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }
    return real_connect(fd, addr, len);
}
