// Command bigimage writes a large generated image as a docker save
// tarball, for measuring imgcompare's speed and memory:
//
//	go run ./bench/bigimage -mb 1024 -o big.tar
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/rastringer/docker_multistage/bench/imagegen"
)

func main() {
	mb := flag.Int("mb", 1024, "image size in MiB, in layers of 256 MiB")
	out := flag.String("o", "big.tar", "output tarball")
	flag.Parse()
	if err := write(*mb, *out); err != nil {
		fmt.Fprintf(os.Stderr, "bigimage: %v\n", err)
		os.Exit(1)
	}
}

func write(mb int, out string) error {
	const layerMB, fileMB = 256, 16
	var img v1.Image = empty.Image
	for left := mb; left > 0; left -= layerMB {
		files := min(left, layerMB) / fileMB
		layer, err := imagegen.Layer(max(files, 1), fileMB<<20)
		if err != nil {
			return err
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return err
		}
	}
	tag, err := name.NewTag("bigimage:latest")
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}
