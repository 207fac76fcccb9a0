package version

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tt := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"release", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"},
			Settings: settings("vcs", "git", "vcs.revision", rev, "vcs.modified", "false")},
			"ringctl v1.2.0 commit 0123456789ab go1.26.0"},
		{"modified checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: settings("vcs.revision", rev, "vcs.modified", "true")},
			"ringctl (devel) commit 0123456789ab (modified) go1.26.0"},
		{"no vcs", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20250101000000-0123456789ab"}},
			"ringctl v0.0.0-20250101000000-0123456789ab commit unknown go1.26.0"},
		{"short revision", &debug.BuildInfo{Settings: settings("vcs.revision", "abc")},
			"ringctl (devel) commit abc go1.26.0"},
		{"no build info", nil, "ringctl (devel) commit unknown go1.26.0"},
	} {
		if got := infoOf(tt.bi, "go1.26.0").Line("ringctl"); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestString checks the real build information of this test binary: the
// program name first, the running Go version last.
func TestString(t *testing.T) {
	got := String("ringd")
	want := regexp.MustCompile(`^ringd \S+ commit ([0-9a-f]{1,12}|unknown)( \(modified\))? ` +
		regexp.QuoteMeta(runtime.Version()) + `$`)
	if !want.MatchString(got) {
		t.Errorf("String = %q", got)
	}
}
