// Package stdflate is the compressor of the standard library's
// compress/flate, copied from Go 1.26.8 with one method added:
// Writer.ResetDict, which primes a writer with a new dictionary. The
// standard library's writer takes a dictionary only when it is made, and
// a new writer is 0.8 MB of tables to allocate and fault in; the
// compressed-size estimate primes one for every 16 KiB it samples.
//
// The copied files differ from Go's only in their package clause, and
// the writer's output is byte for byte the standard library's
// (TestIdentical): an estimate calibrated with it is calibrated against
// compress/gzip. To follow a new Go release, copy deflate.go,
// deflatefast.go, huffman_bit_writer.go, huffman_code.go and token.go
// again from $(go env GOROOT)/src/compress/flate.
package stdflate

import "io"

// From compress/flate's inflate.go, which is not copied.
const maxNumLit = 286

// An InternalError reports an error in the flate code itself.
type InternalError string

func (e InternalError) Error() string { return "flate: internal error: " + string(e) }

// ResetDict discards the writer's state and makes it equivalent to the
// result of NewWriterDict called with dst, w's level and dict, keeping
// its tables. It keeps no copy of dict: a later Reset starts with an
// empty dictionary.
func (w *Writer) ResetDict(dst io.Writer, dict []byte) {
	dw, ok := w.d.w.writer.(*dictWriter)
	if !ok {
		dw = &dictWriter{}
	}
	dw.w = dst
	w.d.reset(dw)
	w.d.fillWindow(dict)
	w.dict = nil
}
