package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ringd/ringd/internal/web"
)

// BenchmarkAPIThroughHandler is what the pages' handler adds to each
// protocol request: a bare handler, called directly and through it, with
// and without CORS origins (a request with a listed Origin).
func BenchmarkAPIThroughHandler(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	pages, err := web.Handler(bare, web.Options{Pages: true})
	if err != nil {
		b.Fatal(err)
	}
	cors, err := web.Handler(bare, web.Options{Pages: true, CORSOrigins: []string{"https://app.example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"direct", bare}, {"pages", pages}, {"pages+cors", cors}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("Origin", "https://app.example.com")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				clear(w.Header())
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}
