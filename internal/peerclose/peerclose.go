// Package peerclose tells when the peer of a TCP connection has closed
// it, without reading from it: the test and load clients that take no
// answers use it to learn that the server has let them go.
package peerclose

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

// Wait returns once the peer has closed c (POLLRDHUP), c is reset or
// fails, or ctx ends. It reads nothing, so a full receive buffer does not
// hide the close; it polls every interval of 20 ms.
func Wait(ctx context.Context, c *net.TCPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	for ctx.Err() == nil {
		var revents int16
		if err := rc.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			if _, err := unix.Poll(fds, 20); err == nil {
				revents = fds[0].Revents
			}
		}); err != nil || revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			return
		}
	}
}
