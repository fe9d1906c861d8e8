package server

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// What a connection costs the Go runtime at worst: heap and stack, under
// each way of spending the header allowance, with the default header
// limit and the largest the flag accepts. MaxConnsFor's arithmetic rests
// on it.

// headerAttack is the start of a request that spends the header
// allowance of a server whose limit is max bytes, and never ends.
type headerAttack struct {
	name    string
	request func(max int) string
}

var headerAttacks = []headerAttack{
	{"tiny fields, one name", func(max int) string {
		return fill("GET / HTTP/1.1\r\n", "a:b\r\n", max)
	}},
	{"tiny fields, distinct names", func(max int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\n")
		for i := 0; b.Len() < max-16; i++ {
			fmt.Fprintf(&b, "%x:b\r\n", i)
		}
		return b.String()
	}},
	{"one long field", func(max int) string {
		return "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", max-40)
	}},
	{"one long field, then another begun", func(max int) string {
		return "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", max-60) + "\r\nY: b"
	}},
	{"two fields of half each", func(max int) string {
		half := "X: " + strings.Repeat("a", max/2-40) + "\r\n"
		return "GET / HTTP/1.1\r\n" + half + half
	}},
	{"the most fields, each long", func(max int) string {
		line := "X: " + strings.Repeat("a", (max-40)/MaxHeaderFields-5) + "\r\n"
		return "GET / HTTP/1.1\r\n" + strings.Repeat(line, MaxHeaderFields)
	}},
	{"the most fields, distinct names", func(max int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\n")
		for i := range MaxHeaderFields {
			fmt.Fprintf(&b, "%x:", i)
			b.WriteString(strings.Repeat("a", (max-40)/MaxHeaderFields-8))
			b.WriteString("\r\n")
		}
		return b.String()
	}},
}

// fill repeats line after head while the whole stays within max bytes.
func fill(head, line string, max int) string {
	return head + strings.Repeat(line, (max-len(head)-8)/len(line))
}

// runtimeBytes is what the Go runtime holds for live objects and stacks,
// after a collection.
func runtimeBytes() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// connCost opens n connections that each send request and hold, and
// returns the runtime bytes each adds, client side included, and how
// many the server still had open when measured.
func connCost(t *testing.T, cfg Config, n int, request string) (perConn int64, open int) {
	t.Helper()
	srv, _, _ := startBudgetServer(t, cfg)
	before := runtimeBytes()
	for range n {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go io.WriteString(c, request)
	}
	time.Sleep(500 * time.Millisecond) // net/http reads what came
	after := runtimeBytes()
	return (after - before) / int64(n), srv.conns.tracked()
}

// TestConnectionCost: no way of spending the header allowance costs more
// of the runtime per connection than ConnHeapBytes says, at the default
// header limit and at the largest.
func TestConnectionCost(t *testing.T) {
	for _, max := range []int{DefaultConfig().MaxHeaderBytes, 1 << 20} {
		n := 200
		if max > 64<<10 {
			n = 8
		}
		cfg := DefaultConfig()
		cfg.MaxHeaderBytes = max
		limit := max + 4096 // net/http's slack
		for _, a := range headerAttacks {
			t.Run(fmt.Sprintf("%d/%s", max, a.name), func(t *testing.T) {
				cost, open := connCost(t, cfg, n, a.request(limit))
				t.Logf("%d KiB per connection, %d of %d still open", cost>>10, open, n)
				if want := ConnHeapBytes(max); cost > want {
					t.Errorf("a connection costs the runtime %d bytes, ConnHeapBytes(%d) says at most %d", cost, max, want)
				}
			})
		}
	}
}
