package server

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// What the running binary was built from, as the Go toolchain recorded it.
// The debug answer reports Version; /metrics shows all three in
// ringd_build_info.
var (
	// Version is the main module's version: a release tag, a pseudo-version
	// for a build from a checkout (with +dirty when it had changes), or
	// "(devel)" when the toolchain knew none.
	Version = "(devel)"
	// Revision is the commit, shortened to 12 digits as in pseudo-versions;
	// "unknown" when the build had no version control information.
	Revision = "unknown"
	// Modified reports that the checkout differed from Revision.
	Modified bool
	// GoVersion is the Go release the binary was built with.
	GoVersion = runtime.Version()
)

func init() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := bi.Main.Version; v != "" {
		Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			Revision = s.Value[:min(len(s.Value), 12)]
		case "vcs.modified":
			Modified = s.Value == "true"
		}
	}
}

// buildInfoGauge is ringd_build_info: always 1, its labels say what runs,
// so that a dashboard can tell which version served when.
func buildInfoGauge() prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ringd_build_info",
		Help: "Always 1; the labels are the version, commit and Go release ringd was built from.",
		ConstLabels: prometheus.Labels{
			"version": Version, "revision": Revision, "goversion": GoVersion,
		},
	})
	g.Set(1)
	return g
}
