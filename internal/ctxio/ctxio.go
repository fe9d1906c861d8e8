// Package ctxio stops reads when a context is done, so that a program
// reading a multi-gigabyte stream returns promptly when it is interrupted.
package ctxio

import (
	"context"
	"io"
)

// Reader reads r until ctx is done, then returns ctx's error.
func Reader(ctx context.Context, r io.Reader) io.Reader { return reader{ctx, r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Detached reads r in a goroutine of its own, so that a Read waiting on
// r (stdin, a pipe nobody writes to) returns ctx's error as soon as ctx is
// done. The read in progress is left behind: for a program about to exit.
func Detached(ctx context.Context, r io.Reader) io.Reader {
	d := &detached{ctx: ctx, chunks: make(chan chunk)}
	go func() {
		for {
			buf := make([]byte, 256<<10)
			n, err := r.Read(buf)
			select {
			case d.chunks <- chunk{buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return d
}

type chunk struct {
	b   []byte
	err error
}

type detached struct {
	ctx    context.Context
	chunks chan chunk
	rest   []byte
	err    error
}

func (d *detached) Read(p []byte) (int, error) {
	for len(d.rest) == 0 && d.err == nil {
		select {
		case c := <-d.chunks:
			d.rest, d.err = c.b, c.err
		case <-d.ctx.Done():
			return 0, d.ctx.Err()
		}
	}
	if len(d.rest) > 0 {
		n := copy(p, d.rest)
		d.rest = d.rest[n:]
		return n, nil
	}
	return 0, d.err
}
