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

// Info is what a binary was built from.
type Info struct {
	// Module is the main module's version: a release tag, a pseudo-version
	// for a build from a checkout, or "(devel)" when the toolchain knew none.
	Module string
	// Revision is the commit, shortened to revisionLength digits; "unknown"
	// when the build had no version control information (go run, go test,
	// -buildvcs=false).
	Revision string
	// Modified reports that the checkout had uncommitted changes.
	Modified bool
	// Go is the Go release the binary was built with.
	Go string
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return infoOf(bi, runtime.Version())
}

func infoOf(bi *debug.BuildInfo, goVersion string) Info {
	in := Info{Module: "(devel)", Revision: "unknown", Go: goVersion}
	if bi == nil {
		return in
	}
	if bi.Main.Version != "" {
		in.Module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value[:min(len(s.Value), revisionLength)]
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the line a program prints for -version:
//
//	ringctl v1.2.0 commit 0123456789ab go1.26.0
//	ringctl (devel) commit 0123456789ab (modified) go1.26.0
func String(program string) string { return Read().Line(program) }

// Line is in as String prints it for program.
func (in Info) Line(program string) string {
	var b strings.Builder
	b.WriteString(program + " " + in.Module + " commit " + in.Revision)
	if in.Modified {
		b.WriteString(" (modified)")
	}
	b.WriteString(" " + in.Go)
	return b.String()
}
