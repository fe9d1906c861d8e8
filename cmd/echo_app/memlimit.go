package main

import (
	"io/fs"
	"math"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimit returns the memory limit the process runs under, in bytes,
// and where it comes from: the smaller of GOMEMLIMIT, as the Go runtime
// applies it, and the limit of the process's memory cgroup (memory.max in
// cgroup v2, memory.limit_in_bytes in v1, on the cgroup or any parent). It
// returns 0 when neither is set. root is the file system holding /proc and
// /sys.
func memoryLimit(root fs.FS) (int64, string) {
	limit, source := int64(0), ""
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		limit, source = l, "GOMEMLIMIT"
	}
	if l, file := cgroupMemoryLimit(root); l > 0 && (limit == 0 || l < limit) {
		limit, source = l, file
	}
	return limit, source
}

// cgroupMemoryLimit reads the lowest memory limit on the way from the
// process's cgroups to their roots, as /proc/self/cgroup names them.
func cgroupMemoryLimit(root fs.FS) (int64, string) {
	b, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	var limit int64
	var from string
	for line := range strings.Lines(string(b)) {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = "sys/fs/cgroup", "memory.max"
		case containsWord(parts[1], "memory"):
			dir, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// In a container the cgroup's own directory is usually mounted
		// at the root, so the parents of the path are tried too.
		for p := path.Clean("/" + parts[2]); ; p = path.Dir(p) {
			name := path.Join(dir, p, file)
			if l := readLimit(root, name); l > 0 && (limit == 0 || l < limit) {
				limit, from = l, "/"+name
			}
			if p == "/" {
				break
			}
		}
	}
	return limit, from
}

func containsWord(list, word string) bool {
	for w := range strings.SplitSeq(list, ",") {
		if w == word {
			return true
		}
	}
	return false
}

// readLimit reads a cgroup memory limit; "max" and v1's page-rounded
// maximum mean no limit, and read as 0.
func readLimit(root fs.FS, name string) int64 {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}
