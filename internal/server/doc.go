// Package server is echo_app's HTTP server: the routes that answer
// "I love <noun>!", the operational endpoints, and a lifecycle that starts
// fast and shuts down without dropping a request.
//
// net/http parses requests and writes answers. The connection wrapper
// (conn.go, deadline.go) and the budget (conns.go) replace its timeouts
// and its Shutdown: net/http's timeouts are per request, not per wait,
// and its Shutdown drops requests (see Server.Serve). The wrapper
// relies on these behaviours of net/http. Each has a canary test in
// canary_test.go that runs net/http itself and fails, naming the
// behaviour, when a Go release changes it; scripts/break-canaries.sh
// (make canaries, part of make test) breaks each behaviour in a copy of
// net/http and checks that its canary fails.
//
//  1. A connection's first act is a read into the bufio.Reader it parses
//     requests from; the wrapper learns that buffer from it (canary:
//     TestCanaryBackgroundRead).
//  2. While a handler runs, net/http may start a background read: one
//     byte, into a buffer other than the request buffer. It ends that read
//     by setting a read deadline in the past, then clears the deadline.
//     The wrapper parks only such a read (conn.isBackgroundRead), and a
//     parked read still ends at the request's deadlines, on the budget's
//     claim and on close (canary: TestCanaryBackgroundRead).
//  3. With none of http.Server's timeouts set, net/http sets no read
//     deadline in the future: every deadline on the socket is the
//     wrapper's (canary: TestCanaryBackgroundRead).
//  4. A read that fails with a *net.OpError in the middle of a request's
//     headers makes net/http close the connection without answering;
//     errClaimed and errWriteClaimed rely on it to evict a connection
//     silently (canary: TestCanaryClaimedReadAnswersNothing).
//  5. http.Server.ConnState reports active for each request before its
//     handler runs, and idle after its answer, before the next request
//     is read, even one already in net/http's buffer; the budget's phases
//     follow it (canary: TestCanaryConnStates).
//  6. Closing the listener makes http.Server.Serve return net.ErrClosed
//     at once, while open connections are still served; Shutdown is never
//     called. The server then answers the requests in hand with
//     Connection: close and closes each connection once it is idle
//     (canary: TestCanaryListenerCloseEndsServe).
package server
