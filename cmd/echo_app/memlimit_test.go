package main

import (
	"runtime/debug"
	"testing"
	"testing/fstest"
)

func TestCgroupMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tt := range []struct {
		name  string
		files fstest.MapFS
		limit int64
		from  string
	}{
		{"no cgroup file", fstest.MapFS{}, 0, ""},
		{"v1 container, own cgroup mounted at the root", fstest.MapFS{
			"proc/self/cgroup":                           file("12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("67108864\n"),
		}, 64 << 20, "/sys/fs/cgroup/memory/memory.limit_in_bytes"},
		{"v1 unlimited", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
		}, 0, ""},
		{"v1 on a host: the cgroup's path, then its parents", fstest.MapFS{
			"proc/self/cgroup": file("4:cpu,memory:/a/b\n"),
			"sys/fs/cgroup/memory/a/b/memory.limit_in_bytes": file("209715200\n"),
			"sys/fs/cgroup/memory/a/memory.limit_in_bytes":   file("104857600\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":     file("9223372036854771712\n"),
		}, 100 << 20, "/sys/fs/cgroup/memory/a/memory.limit_in_bytes"},
		{"v2 container", fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("67108864\n"),
		}, 64 << 20, "/sys/fs/cgroup/memory.max"},
		{"v2 max", fstest.MapFS{
			"proc/self/cgroup": file("0::/system.slice/x.service\n"),
			"sys/fs/cgroup/system.slice/x.service/memory.max": file("max\n"),
		}, 0, ""},
		{"hybrid: v1 memory, v2 without a memory controller", fstest.MapFS{
			"proc/self/cgroup": file("4:memory:/job\n0::/\n"),
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": file("52428800\n"),
		}, 50 << 20, "/sys/fs/cgroup/memory/job/memory.limit_in_bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			limit, from := cgroupMemoryLimit(tt.files)
			if limit != tt.limit || from != tt.from {
				t.Errorf("got %d from %q, want %d from %q", limit, from, tt.limit, tt.from)
			}
		})
	}
}

func TestMemoryLimitTakesTheLower(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(48 << 20))
	cgroup := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("67108864\n")},
	}
	if limit, from := memoryLimit(cgroup); limit != 48<<20 || from != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT 48MiB under a 64MiB cgroup: %d from %q", limit, from)
	}
	debug.SetMemoryLimit(128 << 20)
	if limit, from := memoryLimit(cgroup); limit != 64<<20 || from != "/sys/fs/cgroup/memory.max" {
		t.Errorf("GOMEMLIMIT 128MiB under a 64MiB cgroup: %d from %q", limit, from)
	}
}
