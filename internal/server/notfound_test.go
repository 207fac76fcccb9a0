package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
)

// TestOtherPathsNotFoundInJSON: a path that is neither the API path nor
// /healthz, on the API listener, and one that is not an admin path, on the
// admin listener, is HTTP 404 with {"error":"not found"} as JSON, whatever
// the method, and does not say where the API is.
func TestOtherPathsNotFoundInJSON(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.Path = "/api/v1"
	s := ringtest.New(t, cfg)
	api := s.HTTP.URL
	for _, c := range []struct{ method, url string }{
		{http.MethodPost, api + "/"},
		{http.MethodPost, api + "/api"},
		{http.MethodPost, api + "/api/v1/"},
		{http.MethodGet, api + "/nope"},
		{http.MethodGet, api + "/metrics"},
		{http.MethodPost, api + "/healthz"},
		{http.MethodDelete, api + "/x/y?z=1"},
		{http.MethodGet, s.Admin.URL + "/nope"},
		{http.MethodPost, s.Admin.URL + "/"},
		{http.MethodGet, s.Admin.URL + "/api/v1"},
	} {
		req, _ := http.NewRequest(c.method, c.url, strings.NewReader(`{"req":"register"}`))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || string(b) != `{"error":"not found"}` ||
			res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %q", c.method, c.url, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
	// The API and admin paths still answer.
	res, err := http.Post(api+"/api/v1", "application/octet-stream", strings.NewReader(`{"req":"register"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(string(b), `{"answer":10000,`) {
		t.Fatalf("register at the API path: %s", b)
	}
	for _, u := range []string{api + "/healthz", s.Admin.URL + "/healthz", s.MetricsURL} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, res.StatusCode)
		}
	}
}
