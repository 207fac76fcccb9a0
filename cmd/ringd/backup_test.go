package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sentMessage is a send the server acknowledged, and when.
type sentMessage struct {
	sum   [32]byte
	size  int
	text  bool
	acked time.Time
}

// sendLoad sends texts, 64 KiB files (the arena's) and 2 MiB files (data
// files of their own) from alice to bob from several goroutines until stop
// is closed, and records every acknowledged send by its msgid.
type sendLoad struct {
	mu    sync.Mutex // guards the following
	acked map[string]sentMessage
	err   error
}

func (l *sendLoad) run(c *client, alice, bob user, goroutines int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := l.send(c, alice, bob, g, i); err != nil {
					l.mu.Lock()
					l.err = err
					l.mu.Unlock()
					return
				}
			}
		})
	}
	return &wg
}

func (l *sendLoad) send(c *client, alice, bob user, g, i int) error {
	head := map[string]any{"req": "send", "uuid": alice.uuid, "callee": bob.number}
	var data []byte
	switch i % 3 {
	case 0:
		data = []byte(fmt.Sprintf("text %d-%d", g, i))
	case 1:
		data = make([]byte, 64<<10)
	case 2:
		data = make([]byte, 2<<20)
	}
	if i%3 != 0 {
		rand.Read(data)
		head["fname"] = "f.bin"
	}
	head["length"] = len(data)
	a, _, err := c.post(head, bytes.NewReader(data), int64(len(data)))
	if err != nil || a.code() != 10000 {
		return fmt.Errorf("send: %v %v", a, err)
	}
	m := sentMessage{sum: sha256.Sum256(data), size: len(data), text: i%3 == 0, acked: time.Now()}
	l.mu.Lock()
	l.acked[a.str("msgid")] = m
	l.mu.Unlock()
	return nil
}

// count returns how many sends were acknowledged, and the first error.
func (l *sendLoad) count() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), l.err
}

// waitCount waits until at least n sends were acknowledged.
func (l *sendLoad) waitCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := l.count()
		if err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sends acknowledged, waiting for %d", got, n)
		}
		time.Sleep(10 * time.Millisecond) // sends of other goroutines: nothing to wait on
	}
}

// TestBackupUnderSendLoad backs up a ringd with `ringd backup` while sends
// of texts, arena data and data files go on, starts a second ringd on the
// copy, and finds there every message acknowledged before the backup
// began, with its data intact; the copy then takes new sends.
func TestBackupUnderSendLoad(t *testing.T) {
	root := t.TempDir()
	src, dest := filepath.Join(root, "data"), filepath.Join(root, "backup")
	p := startRingd(t, src)
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")

	load := &sendLoad{acked: map[string]sentMessage{}}
	stop := make(chan struct{})
	wg := load.run(c, alice, bob, 4, stop)
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLoad()
	load.waitCount(t, 30)
	began := time.Now()
	out, err := exec.Command(ringdBinary(t), "backup", "-data", src, dest).CombinedOutput()
	if err != nil {
		t.Fatalf("ringd backup: %v\n%s", err, out)
	}
	t.Logf("%s (in %v)", bytes.TrimSpace(out), time.Since(began).Round(time.Millisecond))
	before, _ := load.count()
	load.waitCount(t, before+6) // sends go on after the backup too
	stopLoad()

	p2 := startRingd(t, dest)
	c2 := newClient(p2.url)
	found := getAll(t, c2, bob)
	acked := load.acked // the load is over
	kinds := map[string]int{}
	for id, m := range acked {
		if !m.acked.Before(began) {
			continue // acknowledged while the backup ran or after: may be missing
		}
		got, ok := found[id]
		if !ok {
			t.Errorf("message %s (%d bytes), acknowledged before the backup began, is not in the copy", id, m.size)
			continue
		}
		checkMessage(t, c2, bob, id, m, got)
		kinds[kindOf(m)]++
	}
	t.Logf("%d sends acknowledged; checked in the copy, acknowledged before the backup began: %v", len(acked), kinds)
	if kinds["text"] == 0 || kinds["arena"] == 0 || kinds["file"] == 0 {
		t.Errorf("the backup began before sends of every kind were acknowledged: %v", kinds)
	}

	// The copy serves new sends, of each kind.
	for i := range 3 {
		if err := load.send(c2, alice, bob, 99, i); err != nil {
			t.Fatalf("a send to the copy: %v", err)
		}
	}
}

func kindOf(m sentMessage) string {
	switch {
	case m.text:
		return "text"
	case m.size <= 1<<20:
		return "arena"
	}
	return "file"
}

// getAll gets every message waiting for u, by msgid.
func getAll(t *testing.T, c *client, u user) map[string]map[string]any {
	t.Helper()
	found := map[string]map[string]any{}
	for page := 0; ; page++ {
		a, _ := c.must(t, map[string]any{"req": "get", "uuid": []string{u.uuid}}, nil)
		msgs, _ := a["messages"].([]any)
		for _, mm := range msgs {
			m := mm.(map[string]any)
			found[m["msgid"].(string)] = m
		}
		if a["more"] != true {
			return found
		}
		if page > 100 {
			t.Fatal("get never ends")
		}
	}
}

// checkMessage checks that the message got from get, and its data fetched
// when it is a file, is what was sent.
func checkMessage(t *testing.T, c *client, to user, id string, want sentMessage, got map[string]any) {
	t.Helper()
	if got["length"] != float64(want.size) {
		t.Errorf("message %s: length %v, want %d", id, got["length"], want.size)
		return
	}
	data := []byte(fmt.Sprint(got["text"]))
	if !want.text {
		_, data = c.must(t, map[string]any{"req": "fetch", "uuid": to.uuid, "msgid": id}, nil)
	}
	if sha256.Sum256(data) != want.sum {
		t.Errorf("message %s: %d bytes in the copy differ from the %d sent", id, len(data), want.size)
	}
}

// TestBackupRefuses: a destination that is not empty, or a source that is
// no data directory, is refused, and nothing is written; `ringd backup -h`
// explains the command.
func TestBackupRefuses(t *testing.T) {
	bin := ringdBinary(t)
	root := t.TempDir()
	src := filepath.Join(root, "data")
	p := startRingd(t, src)
	newUser(t, newClient(p.url), "Alice")
	full := filepath.Join(root, "full")
	if err := os.MkdirAll(filepath.Join(full, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"destination not empty", []string{"-data", src, full}, "is not empty"},
		{"no data directory", []string{"-data", filepath.Join(root, "none"), filepath.Join(root, "new")}, "no ringd data directory"},
		{"no destination", []string{"-data", src}, "one destination"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, append([]string{"backup"}, tc.args...)...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("ringd backup: %v, want a failure saying %q:\n%s", err, tc.want, out)
			}
		})
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("the destination that was not empty holds %d entries", len(ents))
	}
	if _, err := os.Stat(filepath.Join(root, "new")); !os.IsNotExist(err) {
		t.Errorf("a refused backup made its destination: %v", err)
	}
	out, _ := exec.Command(bin, "backup", "-h").CombinedOutput()
	if !strings.Contains(string(out), "Usage: ringd backup") || !strings.Contains(string(out), "-data") {
		t.Errorf("ringd backup -h:\n%s", out)
	}
	out, _ = exec.Command(bin, "-h").CombinedOutput()
	if !strings.Contains(string(out), "ringd backup") {
		t.Errorf("ringd -h does not name ringd backup:\n%s", out)
	}
}

// ringd backup refuses a ringd on PostgreSQL, given by -database or
// RINGD_DATABASE, pointing to PostgreSQL's own tools, and writes nothing.
func TestBackupRefusesPostgres(t *testing.T) {
	bin := ringdBinary(t)
	for _, c := range []struct {
		args []string
		env  string
	}{
		{[]string{"-database", "postgres://ringd@db.example/ringd"}, ""},
		{nil, "RINGD_DATABASE=host=db.example dbname=ringd"},
	} {
		dest := filepath.Join(t.TempDir(), "copy")
		cmd := exec.Command(bin, append(append([]string{"backup"}, c.args...), dest)...)
		cmd.Env = append(os.Environ(), c.env)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "pg_dump") ||
			!strings.Contains(string(out), "versioning") {
			t.Errorf("ringd backup %v (%s): %v\n%s", c.args, c.env, err, out)
		}
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("ringd backup on PostgreSQL made %s", dest)
		}
	}
}
