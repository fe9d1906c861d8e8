package analysis

import (
	"bytes"
	"debug/elf"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Runs is what a final stage needs to run an image's entrypoint, for an
// image that also ships what built it: the program the entrypoint runs
// and, for a dynamically linked one, the loader and libraries it names.
type Runs struct {
	// Path is the program, symlinks resolved; Bytes its size.
	Path  string
	Bytes int64
	// ELF: the program is an ELF binary its walk could read (scripts,
	// and binaries over maxKept bytes, are not).
	ELF bool
	// Static: an ELF binary with no interpreter, which runs FROM scratch.
	Static bool
	// Go: a Go binary (it has Go's build information).
	Go bool
	// Stripped is the size without the symbol table and debug
	// information (go build -ldflags='-s -w', or strip): Bytes less the
	// sections those leave out, as its section headers give them.
	Stripped int64
	// Interpreter and Libraries, of a dynamically linked binary: the
	// loader and the shared libraries it names (DT_NEEDED), which a
	// final stage needs too and Bytes does not count.
	Interpreter string
	Libraries   []string
}

// maxKept bounds the content of a program the walk keeps to read its ELF
// headers.
const maxKept = 256 << 20

// dockerPath is the PATH a container gets when the image sets none.
const dockerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// programCandidates are the paths the program a container of c runs may
// lie at: its first argument as given, or looked up in the PATH of c's
// environment. None when it runs a shell's -c.
func programCandidates(c v1.Config) []string {
	argv := append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(argv) == 0 || argv[0] == "" {
		return nil
	}
	name := argv[0]
	if shells[path.Base(name)] && len(argv) > 1 && argv[1] == "-c" {
		return nil
	}
	if strings.Contains(name, "/") {
		if !path.IsAbs(name) {
			dir := c.WorkingDir
			if dir == "" {
				dir = "/"
			}
			name = path.Join(dir, name)
		}
		return []string{path.Clean(name)}
	}
	search := dockerPath
	for _, e := range c.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			search = v
		}
	}
	var out []string
	for _, dir := range strings.Split(search, ":") {
		if path.IsAbs(dir) {
			out = append(out, path.Join(dir, name))
		}
	}
	return out
}

// whatRuns finds the program of the entrypoint in the final filesystem,
// the first candidate that is one, and reads its ELF headers from the
// content the walk kept. Nil when none is found.
func whatRuns(fs *fsTree, candidates []string) *Runs {
	for _, c := range candidates {
		links := 0
		p, n := fs.follow(c, &links)
		if n == nil {
			continue
		}
		target, ok := program(fs, p, n)
		if !ok {
			continue
		}
		_, n = fs.follow(target, &links)
		r := &Runs{Path: target, Bytes: n.size, Stripped: n.size}
		if content, kept := fs.kept[n.inode]; kept {
			readELF(r, content)
		}
		return r
	}
	return nil
}

// strippedSections are what go build -ldflags='-s -w' and strip leave
// out: the symbol table and the debug information.
func strippedSection(name string) bool {
	return name == ".symtab" || name == ".strtab" || strings.HasPrefix(name, ".debug_") || strings.HasPrefix(name, ".zdebug_")
}

// readELF fills in what r's ELF headers say; nothing when content is not
// an ELF binary.
func readELF(r *Runs, content []byte) {
	f, err := elf.NewFile(bytes.NewReader(content))
	if err != nil {
		return
	}
	defer f.Close()
	r.ELF = true
	r.Static = true
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			r.Static = false
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				r.Interpreter = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	if !r.Static {
		r.Libraries, _ = f.ImportedLibraries()
	}
	for _, s := range f.Sections {
		if s.Name == ".go.buildinfo" {
			r.Go = true
		}
		if strippedSection(s.Name) && s.Type != elf.SHT_NOBITS {
			r.Stripped -= int64(s.FileSize)
		}
	}
}
