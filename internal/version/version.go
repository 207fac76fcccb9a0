// Package version says which build of a ringd program is running, from the
// build information the Go toolchain embeds in every binary.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// revisionLength is how many hex digits of the commit are shown: enough to
// name one commit in the repository, short enough to read aloud.
const revisionLength = 12

// String is the line a program prints for -version:
//
//	ringctl v1.2.0 commit 0123456789ab go1.26.0
//	ringctl (devel) commit 0123456789ab (modified) go1.26.0
//
// The module version is "(devel)" for a build from a checkout. The commit
// is "unknown" when the binary was built without version control
// information (go run, go test, -buildvcs=false); "(modified)" means the
// checkout had uncommitted changes.
func String(program string) string {
	bi, _ := debug.ReadBuildInfo()
	return format(program, bi, runtime.Version())
}

func format(program string, bi *debug.BuildInfo, goVersion string) string {
	module := "(devel)"
	revision, modified := "unknown", false
	if bi != nil {
		if bi.Main.Version != "" {
			module = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value[:min(len(s.Value), revisionLength)]
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	b.WriteString(program + " " + module + " commit " + revision)
	if modified {
		b.WriteString(" (modified)")
	}
	b.WriteString(" " + goVersion)
	return b.String()
}
