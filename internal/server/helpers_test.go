package server_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/ringd/ringd/internal/ringtest"
)

// rawDB opens the test server's SQLite file read-only, beside the server, so
// a test can see what is stored without asking the server.
func rawDB(t testing.TB, s *ringtest.Server) *sql.DB {
	t.Helper()
	ringtest.NeedSQLite(t)
	p := filepath.Join(s.Dir, "ringd.db")
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: p}).EscapedPath()+"?mode=ro&_query_only=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// snapshot describes everything the store keeps: every row of every table
// and every data file. Two equal snapshots mean a request changed nothing.
func snapshot(t testing.TB, db *sql.DB, s *ringtest.Server) string {
	t.Helper()
	var sb strings.Builder
	for _, q := range []string{
		`SELECT number, hex(uuid_hash), name, coalesce(token, '-') FROM numbers ORDER BY number`,
		`SELECT token, appid, build, name, locale FROM devices ORDER BY token`,
		`SELECT number FROM reserved ORDER BY number`,
		`SELECT hash, length, length(inline), arena_off FROM blobs ORDER BY hash`,
		`SELECT id, caller, caller_name, callee, time, uri, length, coalesce(fname, '-'), state FROM messages ORDER BY id`,
		`SELECT caller, cid, result FROM sends ORDER BY caller, cid`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%v\n", vals)
		}
		rows.Close()
		sb.WriteString("--\n")
	}
	for _, f := range blobFiles(t, s) {
		sb.WriteString(f + "\n")
	}
	return sb.String()
}

// blobFiles lists the data stored outside the database: the files under
// the server's blob directory, including temporary ones, and, as
// "arena/<hash>", the data in the arena (what blobs rows and messages
// holding their own extent point at there, one name per extent).
func blobFiles(t testing.TB, s *ringtest.Server) []string {
	t.Helper()
	var out []string
	rows, err := rawDB(t, s).Query(`SELECT hash FROM blobs WHERE arena_off IS NOT NULL
		UNION ALL SELECT uri FROM messages WHERE arena_off IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		out = append(out, "arena/"+h)
	}
	rows.Close()
	root := filepath.Join(s.Dir, "blobs")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// count runs a one-number query on the raw database.
func count(t testing.TB, db *sql.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// rawResponse POSTs body and returns the status, the whole answer body and
// the headers.
func rawResponse(t testing.TB, method, u string, body io.Reader) (int, []byte, http.Header) {
	t.Helper()
	// A protocol request's bytes are kept to check the exchange against
	// the schema (ringtest.CheckExchange).
	var sent []byte
	if br, ok := body.(*bytes.Reader); ok && method == http.MethodPost {
		sent = make([]byte, br.Len())
		br.Read(sent)
		body = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if sent != nil {
		ringtest.CheckExchange(t, sent, b)
	}
	return resp.StatusCode, b, resp.Header
}

// errBody is the exact error answer of code.
func errBody(code int) string {
	text := map[int]string{
		10001: "server error", 10002: "format error", 10003: "number not available",
		10004: "uuid error", 10005: "link data existed", 10009: "server busy, try again",
		10010: "caller number not in use", 10011: "callee number not in use", 10012: "callid error",
		10013: "msgid error", 10031: "service not available", 10032: "balance not enough",
		10061: "auth error",
	}[code]
	return fmt.Sprintf(`{"answer":%d,"error":%q}`, code, text)
}

// wantError posts body and checks the answer is code's error answer
// (errAnswerProblem).
func wantError(t testing.TB, s *ringtest.Server, body []byte, code int) {
	t.Helper()
	status, got, _ := rawResponse(t, http.MethodPost, s.URL, bytes.NewReader(body))
	if p := errAnswerProblem(got, code); status != http.StatusOK || p != "" {
		t.Fatalf("answer %d %s, want 200 %s: %s", status, got, errBody(code), p)
	}
}

// errAnswerProblem says what is wrong with got as the error answer of code,
// or "" when nothing is: it must be exactly errBody(code), or that with a
// "detail" string last, {"answer":code,"error":text,"detail":"…"}; a 10002
// must have one. A detail names the field first ("callee: …") and holds no
// Go or encoding/json text and no secret from the request (a uuid, a
// token).
func errAnswerProblem(got []byte, code int) string {
	want := errBody(code)
	if string(got) == want {
		if code == 10002 {
			return "a 10002 answer without a detail"
		}
		return ""
	}
	prefix := want[:len(want)-1] + `,"detail":`
	rest, ok := strings.CutPrefix(string(got), prefix)
	if !ok || !strings.HasSuffix(rest, "}") {
		return "not " + want + " nor that with a detail last"
	}
	var detail string
	if err := json.Unmarshal([]byte(rest[:len(rest)-1]), &detail); err != nil {
		return "detail is not one JSON string"
	}
	return detailProblem(detail)
}

// detailPattern is a detail's shape: a field name, a colon, a rule.
var detailPattern = regexp.MustCompile(`^[a-z_]+: [^ ]`)

// detailLeaks match what a detail must never hold: encoding/json's or
// Go's words, and the uuids and tokens the tests send.
var detailLeaks = regexp.MustCompile(`(?i)json:|unmarshal|struct|int64|\*string|\[\]|wire\.|store\.|reflect|go value|[0-9a-f]{8}-[0-9a-f]{4}-|token-[0-9]`)

func detailProblem(detail string) string {
	switch {
	case detail == "":
		return "empty detail"
	case !detailPattern.MatchString(detail):
		return fmt.Sprintf("detail %q does not start with a field name", detail)
	case detailLeaks.MatchString(detail):
		return fmt.Sprintf("detail %q holds internals or a secret", detail)
	}
	return ""
}

// headOnly sends an HTTP request whose Content-Length promises the whole
// body but writes only prefix, and returns the answer read while the rest
// has not been sent: proof the server answered without reading it.
func headOnly(t testing.TB, s *ringtest.Server, prefix []byte, total int64) (ringtest.Answer, string) {
	t.Helper()
	u, _ := url.Parse(s.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", u.Host, total)
	if _, err := c.Write(prefix); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the data was sent: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ringtest.CheckExchange(t, prefix, b)
	var a ringtest.Answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return a, string(b)
}

// users registers and logs in names, each on its own device.
func users(t testing.TB, s *ringtest.Server, names ...string) []ringtest.User {
	t.Helper()
	out := make([]ringtest.User, len(names))
	for i, n := range names {
		out[i] = s.User(t, n)
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex // guards the following
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// getAll drains u's undelivered messages, following more.
func getAll(t testing.TB, s *ringtest.Server, u ringtest.User) []map[string]any {
	t.Helper()
	var all []map[string]any
	for i := 0; ; i++ {
		a, _ := s.Must(t, map[string]any{"req": "get", "uuid": []string{u.UUID}}, nil)
		all = append(all, ringtest.Messages(a)...)
		if a["more"] != true {
			return all
		}
		if i > 10000 {
			t.Fatal("more never ends")
		}
	}
}

func randomData(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// sendFile sends data as a file and returns its msgid.
func sendFile(t testing.TB, s *ringtest.Server, from ringtest.User, to string, data []byte) string {
	t.Helper()
	a, _ := s.Must(t, obj{"req": "send", "uuid": from.UUID, "callee": to, "length": len(data), "fname": "f.bin"}, data)
	return a.Str("msgid")
}
