package main

import (
	"fmt"

	"github.com/ringd/ringd/internal/server"
)

// versionText is what -version prints: "ringd VERSION (commit REV) GOVERSION",
// with ", modified" after REV when the build's checkout had changes.
func versionText() string {
	rev := server.Revision
	if server.Modified {
		rev += ", modified"
	}
	return fmt.Sprintf("ringd %s (commit %s) %s", server.Version, rev, server.GoVersion)
}
