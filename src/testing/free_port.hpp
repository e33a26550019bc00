#pragma once

// A loopback port for a test's own server, or for one nothing listens on.
// Header-only: a unit test includes it by path ("testing/free_port.hpp"), and
// tests/integration/services.hpp passes it on to the integration tests.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace v2m::test {

/// A TCP port on 127.0.0.1 that was free a moment ago: the kernel's choice for
/// a socket bound to port 0, closed again before returning.
inline int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace v2m::test
