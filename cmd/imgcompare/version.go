package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set by a release build (-ldflags "-X main.version=v1.2.3");
// otherwise the module's version, as go install MODULE@VERSION records it.
var version = ""

// versionText is what --version prints: the version, the commit it was
// built from (marked when the tree had changes) and the Go toolchain.
func versionText() string {
	v, revision, modified := version, "unknown", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				revision = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				modified = " (modified)"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("imgcompare %s\nrevision %s%s\n%s %s/%s\n", v, revision, modified, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
