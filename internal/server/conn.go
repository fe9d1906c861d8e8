package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// phase is what a connection is doing, as the budget sees it.
type phase uint32

const (
	phaseNew      phase = iota // accepted; no byte of its first request yet
	phaseReading               // part of a request in hand, its headers not complete
	phaseActive                // a complete request is in hand or being answered
	phaseAnswered              // answered; the connection ends once net/http is done with the body
	phaseIdle                  // answered; waiting for the next request, no byte of it in hand
	numPhases
)

var phaseLabels = [numPhases]string{"new", "reading", "active", "answered", "idle"}

// claimReason says why a connection was claimed, which decides what may
// save it.
type claimReason uint8

const (
	claimBudget    claimReason = iota + 1 // a newcomer needs its place
	claimShutdown                         // the server is stopping
	claimWriter                           // a newcomer needs its place, and c's client takes no answers
	claimPipeliner                        // a newcomer needs its place, and c has had its run of pipelined answers
)

// conn is an accepted connection that tells the budget what it is doing.
// It sees every byte net/http reads, finds where each request's headers
// end, and so knows whether a request is in hand, complete or not, even
// when net/http holds it in its buffer (pipelining). It also owns the
// socket deadlines (deadline.go): the four timeouts, and the interruption
// of a read when the connection is claimed.
//
// A claimed connection is closed only by its own reading goroutine, which
// first reads what has arrived, without waiting: a request whose bytes
// came before that moment is never lost to a close.
type conn struct {
	net.Conn
	t *connTracker

	phase   atomic.Uint32 // a phase; written under t.mu
	claimed atomic.Bool   // written under t.mu and dmu

	// Guarded by t.mu.
	prev, next *conn
	list       *connList // the eviction list c is in, or nil
	counted    bool      // in t.open: neither claimed nor closed
	reason     claimReason
	claimedIn  phase // the phase c was claimed in
	closing    bool  // the connection ends after the request being answered
	pipelined  bool  // phaseReading: the request's start came with the one before
	since      int64 // when c was accepted, or its pipelined request began (a clock reading)

	// The reading side: the goroutine that reads and the hooks net/http
	// runs between reads, which net/http orders with them.
	scan         headerScan
	taken        int         // requests net/http has begun (StateActive)
	pipelinedRun int         // answers in a row whose next request was already in hand (StateIdle; t.mu)
	partialSince int64       // when the bytes of the partial request began (a clock reading)
	evicted      bool        // closed: every read returns errClaimed
	bodyUnasked  atomic.Bool // answered, its body never asked for: no read waits (set while net/http's background read may run)

	deadlines
}

// errClaimed is what reads of a closed claimed connection return. It is a
// read *net.OpError so that net/http closes the connection without
// answering, as it does when a client goes away; io.EOF in the middle of
// headers would make it answer 400.
var errClaimed = &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection closed by the server: at the connection budget or shutting down")}

func (c *conn) Read(p []byte) (int, error) {
	for {
		if c.evicted {
			return 0, errClaimed
		}
		ph := phase(c.phase.Load())
		if c.reqBuf == nil && len(p) > 0 {
			c.reqBuf = bufferEnd(p)
		}
		bg := c.isBackgroundRead(p, ph)
		if bg && !c.claimed.Load() {
			if n, err, done := c.park(); done {
				return n, err
			}
			continue // claimed: the socket read settles it
		}
		// The reads of net/http's serving goroutine, never its
		// background read, which runs beside the handler's writes.
		if !bg && c.scan.tooMany {
			return 0, c.refuseFields()
		}
		if !bg && c.bodyUnasked.Load() {
			// What the client sent anyway is read, so that closing
			// does not reset the answer; nothing more is waited for.
			if n := readAvailable(c.Conn, p); n > 0 {
				return n, nil
			}
			return 0, errClaimed
		}
		c.prepareRead(ph)
		n, err := c.Conn.Read(p)
		if n > 0 {
			if n = c.received(p[:n]); n == 0 && err == nil && !c.claimed.Load() {
				continue // only empty lines before a request: read on
			}
		}
		if c.claimed.Load() {
			// Claimed: read what has arrived, without waiting, and let
			// the budget decide on what is in hand.
			if n == 0 {
				if n = readAvailable(c.Conn, p); n > 0 {
					n = c.received(p[:n])
				}
			}
			if !c.t.settle(c, n > 0) {
				c.evicted = true
				c.Conn.Close()
				return 0, errClaimed
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close closes the socket and ends a parked read.
func (c *conn) Close() error {
	c.closed.Store(true)
	c.wake()
	return c.Conn.Close()
}

// refuseFields answers 431 to a request with more than MaxHeaderFields
// header fields, once net/http asks for more of it, and ends the
// connection: every request before it is answered by then.
func (c *conn) refuseFields() error {
	d := c.t.timeouts.write
	if d <= 0 {
		d = time.Second
	}
	c.dmu.Lock()
	c.writeKicked.Store(true) // net/http writes nothing more
	c.Conn.SetWriteDeadline(time.Now().Add(d))
	c.dmu.Unlock()
	io.WriteString(c.Conn, tooManyFields)
	c.evicted = true
	c.Conn.Close()
	return errClaimed
}

// tooManyFields is the answer to a request with more than MaxHeaderFields
// header fields, as net/http answers one over MaxHeaderBytes.
var tooManyFields = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
	"Request Header Fields Too Large: at most " + strconv.Itoa(MaxHeaderFields) + " header fields\n"

// received scans bytes that arrived and moves c to the phase they put it
// in. It takes the budget's lock only when the phase changes. It returns
// how many of them net/http is given: none past a header field over
// MaxHeaderFields.
func (c *conn) received(p []byte) int {
	ends, partial := c.scan.ends, c.scan.inReq
	n := c.scan.scan(p)
	if c.scan.inReq && (!partial || c.scan.ends > ends) {
		c.partialSince = c.t.timeouts.now()
	}
	from := phase(c.phase.Load())
	var to phase
	switch {
	case from == phaseActive || from == phaseAnswered:
		// Pipelined bytes, or a body: StateIdle or the close decides.
		return n
	case c.scan.ends > c.taken:
		to = phaseActive
	case c.scan.inReq:
		to = phaseReading
	default:
		return n
	}
	if to == from {
		return n
	}
	if from == phaseIdle {
		// The next request on a keep-alive connection: its header
		// timeout runs from its first byte.
		c.reqStart = c.partialSince
	}
	c.t.mu.Lock()
	c.t.setPhase(c, to)
	c.t.mu.Unlock()
	return n
}

// pendingRequest reports whether bytes of a request net/http has not begun
// are in hand, and whether that request's headers are complete.
func (c *conn) pendingRequest() (pending, complete bool) {
	complete = c.scan.ends > c.taken
	return complete || c.scan.inReq, complete
}

// headerScan finds where requests' headers end in the bytes a connection
// receives: at an empty line ("\r\n", or a bare "\n" as net/http accepts)
// after a line that is not empty. A request with a body is the last one
// on its connection (the handler closes it), so what follows its headers
// never needs to be told apart from a next request.
type headerScan struct {
	ends    int  // header ends seen
	inReq   bool // bytes of a request whose headers have not ended
	lineLen int  // bytes of the current line so far
	lineCR  bool // the current line so far is "\r"
	lines   int  // lines of the request in hand ended so far
	tooMany bool // the request in hand has more than MaxHeaderFields fields
}

// scan scans p, keeps at its front what net/http is to be given, and
// returns how much that is: all of p but the CR and LF bytes before a
// request line, which RFC 9112 (2.2) says a server should ignore (any of
// them, as nginx does; net/http answers 400), and nothing past the end of
// a line over MaxHeaderFields. (A body is scanned as if it were requests,
// but its connection ends after it, whatever it holds.)
func (s *headerScan) scan(p []byte) int {
	w := 0 // the bytes kept
	for i := 0; i < len(p); {
		if !s.inReq && s.lineLen == 0 && (p[i] == '\r' || p[i] == '\n') {
			i++
			continue
		}
		end := len(p)
		k := bytes.IndexByte(p[i:], '\n')
		if k >= 0 {
			end = i + k + 1
		}
		if w != i {
			copy(p[w:], p[i:end])
		}
		line := p[w : w+end-i]
		w, i = w+end-i, end
		if k < 0 {
			s.lineCR = s.lineLen == 0 && len(line) == 1 && line[0] == '\r'
			s.lineLen += len(line)
			if !s.lineCR {
				s.inReq = true
			}
			return w
		}
		n := s.lineLen + k
		empty := n == 0 || (n == 1 && (s.lineCR || line[0] == '\r'))
		switch {
		case !empty:
			s.inReq = true
			s.lines++
		case s.inReq:
			s.ends++
			s.inReq = false
			s.lines = 0
		}
		s.lineLen, s.lineCR = 0, false
		if s.lines > MaxHeaderFields+1 { // and the request line
			s.tooMany = true
			return w
		}
	}
	return w
}
