// Package web serves ringd's browser pages, the web client at /app/ and the
// operator console at /console/, from files embedded in the binary, and
// lets web apps of listed origins call the protocol (CORS). It sits in
// front of the protocol's handler and passes it every other request
// untouched.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/ringd/ringd/clients/typescript"
	"github.com/ringd/ringd/internal/wire"
)

// static holds the pages: plain HTML, CSS and ES modules, served as they
// are, with no build step. They use the TypeScript client, whose compiled
// modules (committed with it) are served at clientPath.
//
//go:embed static
var static embed.FS

// Options says what the handler serves besides the protocol.
type Options struct {
	// Pages serves /app/ and /console/; false leaves them to the protocol's
	// handler, which answers 404.
	Pages bool
	// APIPath is where the protocol is POSTed (server.Config.Path).
	APIPath string
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// call the protocol; none: no CORS headers at all.
	CORSOrigins []string
}

// contentSecurityPolicy lets the pages load only their own files and talk
// only to their own server: no inline script or style, no frames, no
// plugins, no form posting elsewhere. Images and downloads may be blob:
// URLs the page makes from fetched data.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// corsMaxAge is how long a browser may keep a preflight's answer.
const corsMaxAge = 24 * time.Hour

// file is one embedded file, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	api     http.Handler
	apiPath string
	files   map[string]file // by URL path: "/app/" and "/app/app.js"
	origins map[string]bool
}

// Handler returns the handler ringd serves: the pages (if o.Pages), CORS
// on o.APIPath for o.CORSOrigins, and api for everything else.
func Handler(api http.Handler, o Options) (http.Handler, error) {
	h := &handler{api: api, apiPath: o.APIPath, origins: map[string]bool{}}
	if h.apiPath == "" {
		h.apiPath = "/"
	}
	for _, origin := range o.CORSOrigins {
		norm, err := NormalizeOrigin(origin)
		if err != nil {
			return nil, err
		}
		h.origins[norm] = true
	}
	if o.Pages {
		files, err := loadFiles()
		if err != nil {
			return nil, err
		}
		h.files = files
	}
	return h, nil
}

// NormalizeOrigin checks that origin is what a browser sends in Origin,
// scheme://host[:port] with no path, and returns it in lower case, as
// browsers send it.
func NormalizeOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("CORS origin %q: want scheme://host[:port], as http://localhost:3000", origin)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// clientPath is where the TypeScript client's modules are served.
const clientPath = "/app/lib/client/"

// loadFiles reads the embedded files once, with their content types and
// ETags (a hash of the content, so a new build's files are fetched anew):
// the pages, and the client's JavaScript modules (not its declarations).
func loadFiles() (map[string]file, error) {
	files := map[string]file{}
	err := addFiles(files, static, "static", "/", func(string) bool { return true })
	if err == nil {
		err = addFiles(files, typescript.Dist, "dist", clientPath, func(p string) bool { return path.Ext(p) == ".js" })
	}
	return files, err
}

// addFiles adds the files under dir of fsys that keep says to keep, at
// urlDir and their path under dir; an index.html is also its directory.
func addFiles(files map[string]file, fsys fs.ReadFileFS, dir, urlDir string, keep func(string) bool) error {
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !keep(p) {
			return err
		}
		body, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := file{body: body, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		urlPath := urlDir + strings.TrimPrefix(p, dir+"/")
		files[urlPath] = f
		if path.Base(urlPath) == "index.html" {
			files[strings.TrimSuffix(urlPath, "index.html")] = f
		}
		return nil
	})
}

// contentType is the type of an embedded file by its extension; the table
// is ours, not the system's, so every machine serves the same.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == h.apiPath:
		if len(h.origins) > 0 && h.cors(w, r) {
			return
		}
	case h.files != nil && isPagePath(p):
		h.servePage(w, r)
		return
	}
	h.api.ServeHTTP(w, r)
}

// isPagePath reports whether p is under the pages' paths.
func isPagePath(p string) bool {
	return p == "/app" || p == "/console" || strings.HasPrefix(p, "/app/") || strings.HasPrefix(p, "/console/")
}

// servePage serves an embedded file. Every answer, 404s included, carries
// the security headers. Files are revalidated on each use (no-cache) and
// answered 304 when their ETag matches, so a new ringd's pages are seen at
// once and an unchanged one costs a round trip and no bytes.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/app" || r.URL.Path == "/console" {
		http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		wire.WriteNotFound(w) // as every other path ringd does not serve
		return
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// cors adds the CORS headers for a listed origin and answers its
// preflight; it reports whether it answered. An unlisted origin, or a
// request with none, gets no CORS header and goes on to the protocol as
// before (a preflight of it is then a non-POST: 405).
func (h *handler) cors(w http.ResponseWriter, r *http.Request) bool {
	hd := w.Header()
	hd.Add("Vary", "Origin") // the answer's headers depend on it
	origin := r.Header.Get("Origin")
	if origin == "" || !h.origins[origin] {
		return false
	}
	hd.Set("Access-Control-Allow-Origin", origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", http.MethodPost)
		hd.Set("Access-Control-Allow-Headers", "Content-Type")
		hd.Set("Access-Control-Max-Age", fmt.Sprint(int(corsMaxAge.Seconds())))
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	// A 10009's Retry-After is for the client to read.
	hd.Set("Access-Control-Expose-Headers", "Retry-After")
	return false
}
