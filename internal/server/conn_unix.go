//go:build unix

package server

import (
	"net"
	"syscall"
)

// readAvailable reads into p what has arrived on nc, without waiting (the
// socket is non-blocking, as every socket of Go's net package is). It
// returns 0 when nothing has arrived or the peer has closed.
func readAvailable(nc net.Conn, p []byte) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	rc.Control(func(fd uintptr) {
		for {
			m, err := syscall.Read(int(fd), p)
			if err == syscall.EINTR {
				continue
			}
			n = max(m, 0)
			return
		}
	})
	return n
}
