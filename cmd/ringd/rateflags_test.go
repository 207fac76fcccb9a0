package main

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/server"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]server.Rate{
		"30/h":      {Burst: 30, Per: time.Hour},
		"10/m":      {Burst: 10, Per: time.Minute},
		"50/s":      {Burst: 50, Per: time.Second},
		"100/2s":    {Burst: 100, Per: 2 * time.Second},
		" 5/90m ":   {Burst: 5, Per: 90 * time.Minute},
		"1/500ms":   {Burst: 1, Per: 500 * time.Millisecond},
		"off":       {Off: true},
		"1000000/h": {Burst: 1000000, Per: time.Hour},
	} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		// What a rate prints, it reads back.
		if again, err := parseRate(formatRate(got)); err != nil || again != want {
			t.Errorf("%q printed as %q reads back as %+v, %v", in, formatRate(got), again, err)
		}
	}
	for _, in := range []string{"", "30", "30/", "/h", "0/h", "-1/h", "x/h", "1.5/h", "30/d", "30/0s",
		"30/-1s", "30/h/2", "30 per hour", "on", "30/H"} {
		if got, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) = %+v, want an error", in, got)
		} else if !strings.Contains(err.Error(), "N/s, N/m, N/h or N/DURATION") {
			t.Errorf("parseRate(%q): error %q does not say what is wanted", in, err)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.0/8,::1/128":                 "127.0.0.0/8,::1/128",
		"10.1.2.3/8, 192.0.2.7":               "10.0.0.0/8,192.0.2.7/32",
		"2001:db8::1, ::ffff:198.51.100.1, ,": "2001:db8::1/128,198.51.100.1/32",
		"none":                                "none",
		"":                                    "none",
	} {
		got, err := parsePrefixes(in)
		if err != nil || (prefixesValue{&got}).String() != want {
			t.Errorf("parsePrefixes(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"10.0.0.0/33", "10.0.0", "localhost", "none,10.0.0.0/8", "fe80::1%eth0", "10.0.0.0/8;"} {
		if got, err := parsePrefixes(in); err == nil {
			t.Errorf("parsePrefixes(%q) = %v, want an error", in, got)
		}
	}
}

func TestRateFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if c := o.cfg.RateConfig; c.RegisterRate != server.DefaultRegisterRate || c.RequestRate != server.DefaultRequestRate ||
		!slices.Equal(c.RateExempt, loopback) || c.TrustedProxies == nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v", c)
	}
	// The example file sets the defaults.
	o, err = parseFlags([]string{"-config", "../../docs/config.example.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.cfg.RateConfig; c.RegisterRate != server.DefaultRegisterRate || c.RequestRate != server.DefaultRequestRate ||
		!slices.Equal(c.RateExempt, loopback) || c.TrustedProxies == nil || len(c.TrustedProxies) != 0 {
		t.Fatalf("from the example: %+v", c)
	}
	t.Setenv("RINGD_REQUEST_RATE", "20/s")
	path := writeFile(t, "ringd.yaml", "trusted-proxies: [10.0.0.0/8, 192.0.2.1]\nregister-rate: off\n")
	o, err = parseFlags([]string{"-config", path, "-rate-exempt", "none"})
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg.RateConfig
	if c.RequestRate != (server.Rate{Burst: 20, Per: time.Second}) || !c.RegisterRate.Off || c.RateExempt == nil ||
		len(c.RateExempt) != 0 || len(c.TrustedProxies) != 2 || c.TrustedProxies[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("from flags, environment and file: %+v", c)
	}
	for _, args := range [][]string{{"-register-rate", "30/day"}, {"-request-rate", "fast"}, {"-trusted-proxies", "proxy.local"}} {
		if _, err := parseFlags(args); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%q: error %v, want one naming the flag", args, err)
		}
	}
}

// The real binary limits a client address by its flags: past
// -request-rate the answer is 10009 with Retry-After.
func TestRateLimitProcess(t *testing.T) {
	p := startRingd(t, t.TempDir(), "-rate-exempt", "none", "-request-rate", "3/h", "-register-rate", "2/h")
	answers := make([]string, 0, 4)
	var retryAfter string
	for range 4 {
		resp, err := http.Post(p.url, "application/json", strings.NewReader(`{"req":"register"}`))
		if err != nil {
			t.Fatal(err)
		}
		var a answer
		json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		answers = append(answers, a.str("error"))
		retryAfter = resp.Header.Get("Retry-After")
	}
	// Two registers, the third refused by -register-rate, the fourth by
	// -request-rate: its token is back in 20 minutes.
	if want := []string{"", "", "server busy, try again", "server busy, try again"}; !slices.Equal(answers, want) ||
		retryAfter != "1200" && retryAfter != "1199" {
		t.Fatalf("answers %q, last Retry-After %q", answers, retryAfter)
	}
}
