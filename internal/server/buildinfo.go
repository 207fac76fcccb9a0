package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/internal/version"
)

// build is what the running binary was built from. The debug answer reports
// its module version; /metrics shows it in ringd_build_info.
var build = version.Read()

// Version is the main module's version (version.Info.Module).
var Version = build.Module

// buildInfoGauge is ringd_build_info: always 1, its labels say what runs,
// so that a dashboard can tell which version served when.
func buildInfoGauge() prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ringd_build_info",
		Help: "Always 1; the labels are the version, commit and Go release ringd was built from.",
		ConstLabels: prometheus.Labels{
			"version": build.Module, "revision": build.Revision, "goversion": build.Go,
		},
	})
	g.Set(1)
	return g
}
