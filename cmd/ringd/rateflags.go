package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/server"
)

// rateFlags defines the per-client-address rate-limit flags on fs, into c,
// set to their defaults.
func rateFlags(fs *flag.FlagSet, c *server.RateConfig) {
	c.RegisterRate, c.RequestRate = server.DefaultRegisterRate, server.DefaultRequestRate
	c.RateExempt, c.TrustedProxies = server.DefaultRateExempt(), []netip.Prefix{}
	fs.Var((*rateValue)(&c.RegisterRate), "register-rate",
		"register requests of one client address (IPv6: one /64), a `RATE`: N/s, N/m, N/h or N/DURATION, N at once and N more each period; off: no limit")
	fs.Var((*rateValue)(&c.RequestRate), "request-rate",
		"all requests of one client address (IPv6: one /64), a `RATE` as -register-rate's: 100/2s is 100 at once, then 50 a second")
	fs.Var(prefixesValue{&c.RateExempt}, "rate-exempt",
		"client addresses never rate limited: comma-separated `CIDRS` or addresses, or none")
	fs.Var(prefixesValue{&c.TrustedProxies}, "trusted-proxies",
		"proxies whose X-Forwarded-For names the client: comma-separated `CIDRS` or addresses, or none")
}

// rateValue is a server.Rate as a flag: "N/s", "N/m", "N/h", "N/DURATION"
// (as "100/2s") or "off".
type rateValue server.Rate

var errRateSyntax = errors.New("want N/s, N/m, N/h or N/DURATION (N a whole number of requests at least 1, as 30/h or 100/2s), or off")

func (r *rateValue) Set(s string) error {
	v, err := parseRate(s)
	if err != nil {
		return err
	}
	*r = rateValue(v)
	return nil
}

func (r *rateValue) String() string {
	if r == nil {
		return ""
	}
	return formatRate(server.Rate(*r))
}

// parseRate reads a rate limit: N requests at once, refilled at N per
// period.
func parseRate(s string) (server.Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return server.Rate{Off: true}, nil
	}
	count, period, ok := strings.Cut(s, "/")
	if !ok {
		return server.Rate{}, fmt.Errorf("rate %q: %w", s, errRateSyntax)
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return server.Rate{}, fmt.Errorf("rate %q: %w", s, errRateSyntax)
	}
	per, ok := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[period]
	if !ok {
		per, err = time.ParseDuration(period)
		if err != nil || per <= 0 {
			return server.Rate{}, fmt.Errorf("rate %q: %w", s, errRateSyntax)
		}
	}
	return server.Rate{Burst: n, Per: per}, nil
}

func formatRate(r server.Rate) string {
	switch {
	case r.Off:
		return "off"
	case r.Burst <= 0 || r.Per <= 0:
		return ""
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return fmt.Sprintf("%d/%s", r.Burst, unit)
}

// prefixesValue is a list of CIDRs as a flag: comma-separated prefixes
// ("10.0.0.0/8") or addresses (one address's prefix), or "none". Each Set
// replaces the list, so the environment or the file can override the
// default.
type prefixesValue struct{ p *[]netip.Prefix }

func (v prefixesValue) Set(s string) error {
	list, err := parsePrefixes(s)
	if err != nil {
		return err
	}
	*v.p = list
	return nil
}

func (v prefixesValue) String() string {
	if v.p == nil {
		return ""
	}
	if len(*v.p) == 0 {
		return "none"
	}
	parts := make([]string, len(*v.p))
	for i, p := range *v.p {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// parsePrefixes reads a list of CIDRs; "none" (or nothing) is the empty
// list.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	list := []netip.Prefix{}
	if strings.TrimSpace(s) == "none" {
		return list, nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := parsePrefix(f)
		if err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (as 10.0.0.0/8 or 2001:db8::/32)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR (as 10.0.0.0/8) nor an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
