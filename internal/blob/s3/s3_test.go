package s3_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/blob/s3"
	"github.com/ringd/ringd/internal/testsrv"
)

// open starts a gateway, gives its keys to the environment as ringd's
// operator would, and opens its bucket.
func open(t *testing.T) (*s3.Store, testsrv.S3Server) {
	t.Helper()
	srv := testsrv.StartS3(t)
	useKeys(t, srv.AccessKey, srv.SecretKey)
	st, err := s3.Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return st, srv
}

func useKeys(t *testing.T, access, secret string) {
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
}

func read(t *testing.T, st *s3.Store, name string, offset, n int64) []byte {
	t.Helper()
	r, err := st.Open(t.Context(), name, offset, n)
	if err != nil {
		t.Fatalf("open %s at %d+%d: %v", name, offset, n, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s at %d+%d: %v", name, offset, n, err)
	}
	return b
}

// What Put stores, Open gives back, whole or by range.
func TestPutOpenRanges(t *testing.T) {
	st, _ := open(t)
	data := make([]byte, 3<<20+17) // several of minio-go's buffers, not a round size
	rand.Read(data)
	if err := st.Put(t.Context(), "a1b2", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	size := int64(len(data))
	for _, c := range []struct{ off, n int64 }{
		{0, -1}, {0, size}, {1, 1}, {1 << 20, 5}, {size - 3, -1}, {size - 3, 3}, {size - 3, 100}, {7, 0},
	} {
		want := data[c.off:]
		if c.n >= 0 {
			want = want[:min(c.n, int64(len(want)))]
		}
		if got := read(t, st, "a1b2", c.off, c.n); !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: %d bytes, want %d", c.off, c.n, len(got), len(want))
		}
	}
	if err := st.Put(t.Context(), "empty", strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	if got := read(t, st, "empty", 0, -1); len(got) != 0 {
		t.Fatalf("empty object read back as %d bytes", len(got))
	}
}

// A Put whose reader ends early stores nothing.
func TestShortPutStoresNothing(t *testing.T) {
	st, _ := open(t)
	if err := st.Put(t.Context(), "short", strings.NewReader("abc"), 10); err == nil {
		t.Fatal("put of 3 bytes as 10 succeeded")
	}
	if _, err := st.Open(t.Context(), "short", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open after a short put: %v, want blob.ErrNotFound", err)
	}
}

// A missing object is blob.ErrNotFound; Delete removes one and is no error
// for a missing one.
func TestMissingAndDelete(t *testing.T) {
	st, _ := open(t)
	if _, err := st.Open(t.Context(), "nothing", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open of a missing object: %v, want blob.ErrNotFound", err)
	}
	if _, err := st.Open(t.Context(), "nothing", 5, 5); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("ranged open of a missing object: %v, want blob.ErrNotFound", err)
	}
	if err := st.Put(t.Context(), "x", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(t.Context(), "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Open(t.Context(), "x", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("open after delete: %v, want blob.ErrNotFound", err)
	}
	if err := st.Delete(t.Context(), "x"); err != nil {
		t.Fatalf("delete of a missing object: %v", err)
	}
}

func names(t *testing.T, st *s3.Store, before time.Time) []string {
	t.Helper()
	var out []string
	for o, err := range st.ListOlder(t.Context(), before) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Name)
	}
	slices.Sort(out)
	return out
}

// ListOlder lists exactly the objects written before its time. Object
// times may be whole seconds, hence the pauses of over a second.
func TestListOlder(t *testing.T) {
	st, _ := open(t)
	for _, n := range []string{"old1", "old2"} {
		if err := st.Put(t.Context(), n, strings.NewReader(n), int64(len(n))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	cut := time.Now()
	time.Sleep(1100 * time.Millisecond)
	if err := st.Put(t.Context(), "new", strings.NewReader("new"), 3); err != nil {
		t.Fatal(err)
	}
	if got := names(t, st, cut); !slices.Equal(got, []string{"old1", "old2"}) {
		t.Fatalf("older than the cut: %q", got)
	}
	if got := names(t, st, time.Now().Add(time.Minute)); !slices.Equal(got, []string{"new", "old1", "old2"}) {
		t.Fatalf("older than now: %q", got)
	}
	if got := names(t, st, cut.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("older than an hour before: %q", got)
	}
	for range st.ListOlder(t.Context(), time.Now().Add(time.Minute)) {
		break // stopping early must end the listing cleanly
	}
}

// A bucket that cannot be reached, does not exist, or refuses the keys
// fails Open with a message saying which, and never with the keys.
func TestOpenFailsClearly(t *testing.T) {
	srv := testsrv.StartS3(t)
	cases := []struct {
		name, url, secret, want string
	}{
		{"no server", "s3://ringd-test?endpoint=http://127.0.0.1:1&region=us-east-1", srv.SecretKey, "cannot use"},
		{"no bucket", "s3://no-such-bucket?endpoint=" + srv.Endpoint + "&region=us-east-1", srv.SecretKey, "does not exist"},
		{"wrong secret", srv.URL(), "wrong-" + srv.SecretKey, "cannot use"},
		{"not s3", "http://ringd-test", srv.SecretKey, "s3://BUCKET"},
		{"keys in URL", "s3://" + srv.AccessKey + ":" + srv.SecretKey + "@ringd-test?endpoint=" + srv.Endpoint, srv.SecretKey, "do not go in the URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			useKeys(t, srv.AccessKey, c.secret)
			start := time.Now()
			st, err := s3.Open(t.Context(), c.url)
			if err == nil {
				t.Fatalf("opened %v", st)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not say %q", msg, c.want)
			}
			if strings.Contains(msg, srv.AccessKey) || strings.Contains(msg, srv.SecretKey) {
				t.Fatalf("error carries a key: %q", msg)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("failing took %v", d)
			}
		})
	}
}

// Object errors carry no keys either.
func TestObjectErrorsCarryNoKeys(t *testing.T) {
	st, srv := open(t)
	_, err := st.Open(t.Context(), "missing", 0, 1)
	if err == nil || strings.Contains(err.Error(), srv.AccessKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("error %v", err)
	}
	if s := st.String(); strings.Contains(s, srv.AccessKey) || strings.Contains(s, srv.SecretKey) {
		t.Fatalf("String %q carries a key", s)
	}
}
