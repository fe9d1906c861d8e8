package analysis

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLooksLikePath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "echo_app")
	os.WriteFile(file, []byte("a binary"), 0o755)
	info, _ := os.Stat(file)
	dirInfo, _ := os.Stat(dir)
	for _, c := range []struct {
		arg  string
		info os.FileInfo
		want bool
	}{
		{"echo_app", info, false}, // a file in the working directory named like an image
		{"./echo_app", info, true},
		{file, info, true},
		{"image.tar", info, true},
		{"image.tar.gz", info, true},
		{"layout", dirInfo, true},
	} {
		if got := looksLikePath(c.arg, c.info); got != c.want {
			t.Errorf("looksLikePath(%q) = %v, want %v", c.arg, got, c.want)
		}
	}
}
