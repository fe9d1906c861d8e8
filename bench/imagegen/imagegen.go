// Package imagegen generates container image layers of any size on the
// fly, for measuring imgcompare's speed and memory without storing them.
package imagegen

import (
	"archive/tar"
	"fmt"
	"io"
	"math/rand/v2"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Layer is a layer of files files of fileSize bytes each, made
// on the fly every time it is read, so a layer of gigabytes costs no
// memory. The content is pseudo-random over a small alphabet, so it
// compresses about as well as executables do.
func Layer(files int, fileSize int64) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(writeGenerated(pw, files, fileSize))
		}()
		return pr, nil
	})
}

func writeGenerated(w io.Writer, files int, fileSize int64) error {
	tw := tar.NewWriter(w)
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 64<<10)
	for i := range files {
		h := &tar.Header{Name: fmt.Sprintf("data/file-%04d.bin", i), Mode: 0o644, Size: fileSize, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		for left := fileSize; left > 0; {
			n := min(left, int64(len(chunk)))
			for j := range chunk[:n] {
				chunk[j] = "abcdefghijklmnop"[rng.IntN(16)]
			}
			if _, err := tw.Write(chunk[:n]); err != nil {
				return err
			}
			left -= n
		}
	}
	return tw.Close()
}
