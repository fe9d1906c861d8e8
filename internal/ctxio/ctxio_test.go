package ctxio

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, strings.NewReader("alpacas"))
	b := make([]byte, 3)
	if n, err := r.Read(b); n != 3 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	cancel()
	if n, err := r.Read(b); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %d, %v", n, err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll after cancel: %v", err)
	}
}

// TestDetached interrupts a read waiting on a pipe that nobody writes to,
// after reading what was written.
func TestDetached(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	w.Write([]byte("alpacas"))
	done := make(chan error)
	var got []byte
	go func() {
		var err error
		got, err = io.ReadAll(Detached(ctx, r))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || string(got) != "alpacas" {
			t.Errorf("read %q, %v; want alpacas, canceled", got, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read is still waiting")
	}
}

func TestDetachedReadsAll(t *testing.T) {
	want := strings.Repeat("I love alpacas! ", 100_000)
	got, err := io.ReadAll(Detached(context.Background(), strings.NewReader(want)))
	if err != nil || string(got) != want {
		t.Errorf("read %d bytes, %v; want %d", len(got), err, len(want))
	}
}
