package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests fill a real small filesystem (a tmpfs mounted for the test)
// under a running ringd: no fake of the filesystem or of its free space.

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted
// when the test ends (after the ringd started later is killed). Mounting
// needs root: CI runs the tests as root, and there a test that cannot
// mount fails rather than skips.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("not root: this test mounts a tmpfs and must run as root in CI")
		}
		t.Skip("not root: this test mounts a tmpfs (it runs as root in CI)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Fatalf("mount -t tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is what the filesystem of dir has free for an unprivileged
// writer, as df shows it.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// writeFiller writes n bytes of other data to name, for real.
func writeFiller(t *testing.T, name string, n int64) {
	t.Helper()
	if err := os.WriteFile(name, bytes.Repeat([]byte{0xa5}, int(n)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// randomData is n bytes that differ from one call to the next.
func randomData(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		x := rand.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	return b
}

// sent is an acknowledged message: its data's length and hash.
type sent struct {
	length int
	sum    [32]byte
}

// sendTimed sends data as a file (fname set) or a text and returns the
// answer and how long the request took.
func sendTimed(t *testing.T, c *client, from, to user, data []byte, file bool) (answer, time.Duration) {
	t.Helper()
	head := map[string]any{"req": "send", "uuid": from.uuid, "callee": to.number, "length": len(data)}
	if file {
		head["fname"] = "f.bin"
	}
	start := time.Now()
	a, _, err := c.post(head, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return a, time.Since(start)
}

// checkAcknowledged reads bob's history (every message, marking nothing)
// and compares each one acknowledged with what was sent, byte for byte.
func checkAcknowledged(t *testing.T, c *client, bob user, acked map[string]sent) {
	t.Helper()
	found, last := 0, ""
	for page := 0; ; page++ {
		head := map[string]any{"req": "history", "uuid": []string{bob.uuid}}
		if last != "" {
			head["after_msgid"] = last
		}
		a, _ := c.must(t, head, nil)
		msgs, _ := a["messages"].([]any)
		for _, mm := range msgs {
			m := mm.(map[string]any)
			id := m["msgid"].(string)
			last = id
			want, ok := acked[id]
			if !ok {
				continue
			}
			found++
			var got []byte
			if text, ok := m["text"].(string); ok {
				got = []byte(text)
			} else {
				_, got = c.must(t, map[string]any{"req": "fetch", "uuid": bob.uuid, "msgid": id}, nil)
			}
			if len(got) != want.length || sha256.Sum256(got) != want.sum {
				t.Fatalf("message %s: %d bytes differ from the %d sent", id, len(got), want.length)
			}
		}
		if a["more"] != true {
			break
		}
		if page > 1000 {
			t.Fatal("get never ends")
		}
	}
	if found != len(acked) {
		t.Fatalf("%d of %d acknowledged messages found", found, len(acked))
	}
}

// metric returns the value of a ringd gauge on the admin listener's /metrics.
func metric(t *testing.T, p *proc, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.adminURL(t) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// logCount counts the lines of the ringd's log holding s.
func (p *proc) logCount(s string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Count(p.log.String(), s)
}

// TestDiskFullRefusesOnlyWhenFull fills a 100 MiB filesystem holding
// 10 MiB of other data (too little room for the arena to grow): see
// fillUntilRefused.
func TestDiskFullRefusesOnlyWhenFull(t *testing.T) {
	fillUntilRefused(t, 100<<20, 10<<20, 70<<20)
}

// TestDiskFullAfterArenaChunk fills a 200 MiB filesystem holding 10 MiB
// of other data: the arena takes one chunk, which fills, and then data
// goes to files of its own until the space is gone.
func TestDiskFullAfterArenaChunk(t *testing.T) {
	p := fillUntilRefused(t, 200<<20, 10<<20, 170<<20)
	if size := metric(t, p, "ringd_arena_size_bytes"); size != 64<<20 {
		t.Errorf("ringd_arena_size_bytes %.0f, want one chunk", size)
	}
	if free := metric(t, p, "ringd_arena_free_bytes"); free >= 1<<20 {
		t.Errorf("ringd_arena_free_bytes %.0f: the arena was not filled", free)
	}
}

// fillUntilRefused fills a filesystem of size bytes holding filler bytes
// of other data with 200 KiB files and 5-byte texts: the first refusal
// comes only when the space is truly gone (minAcked bytes of messages or
// more acknowledged), at once, as 10001, and loses nothing acknowledged;
// texts still go through after files are refused; once the other data is
// deleted every size of send works again within a second, without a
// restart; and the log says "disk full" twice, as it starts and as it
// ends, and nothing else as an error.
func fillUntilRefused(t *testing.T, size, filler, minAcked int64) *proc {
	const MiB = 1 << 20
	fs := mountTmpfs(t, size)
	fillerName := filepath.Join(fs, "filler")
	writeFiller(t, fillerName, filler)
	p := startRingd(t, filepath.Join(fs, "data"), "-admin-listen", "127.0.0.1:0")
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")

	acked := map[string]sent{}
	ackedBytes, refused, took := sendUntilRefused(t, c, alice, bob, acked)
	free := freeBytes(t, fs)
	t.Logf("first refusal: %v after %v; %d messages, %.1f MiB acknowledged; %.1f MiB free",
		refused, took, len(acked), float64(ackedBytes)/MiB, float64(free)/MiB)
	if refused.code() != 10001 {
		t.Errorf("refused with %v, want 10001", refused)
	}
	if took > time.Second {
		t.Errorf("the refusal took %v", took)
	}
	if ackedBytes < minAcked {
		t.Errorf("refused after %.1f MiB acknowledged with %.1f MiB free; want %d MiB or more",
			float64(ackedBytes)/MiB, float64(free)/MiB, minAcked/MiB)
	}
	if m := metric(t, p, "ringd_data_free_bytes"); m < float64(free-MiB) || m > float64(free+MiB) {
		t.Errorf("ringd_data_free_bytes %.0f, statfs says %d", m, free)
	}
	if m := metric(t, p, "ringd_disk_full"); m != 1 {
		t.Errorf("ringd_disk_full %v after a refusal", m)
	}
	// More files are refused too, each at once, and not logged one by one.
	for i := range 20 {
		a, took := sendTimed(t, c, alice, bob, randomData(200<<10), true)
		if a.code() != 10001 || took > time.Second {
			t.Fatalf("file %d after the refusal: %v after %v, want 10001 at once", i, a, took)
		}
	}
	// Texts go on after files are refused: they need only the database.
	for i := range 100 {
		data := []byte(fmt.Sprintf("x%04d", i))
		a, _ := sendTimed(t, c, alice, bob, data, false)
		if a.code() != 10000 {
			t.Fatalf("text %d after the refusal: %v", i, a)
		}
		acked[a.str("msgid")] = sent{len(data), sha256.Sum256(data)}
	}
	checkAcknowledged(t, c, bob, acked)

	// Space freed: every size works again within a second.
	if err := os.Remove(fillerName); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	for _, n := range []int{5, 200 << 10, 2 << 20} {
		for {
			data := randomData(n)
			if n == 5 {
				data = []byte("again") // a text: UTF-8
			}
			a, _ := sendTimed(t, c, alice, bob, data, n > 5)
			if a.code() == 10000 {
				acked[a.str("msgid")] = sent{len(data), sha256.Sum256(data)}
				break
			}
			if time.Since(freed) > time.Second {
				t.Fatalf("a send of %d bytes still refused %v after space was freed (%.1f MiB free): %v",
					n, time.Since(freed), float64(freeBytes(t, fs))/MiB, a)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	checkAcknowledged(t, c, bob, acked)
	checkDiskFullLog(t, p)
	return p
}

// sendUntilRefused sends 200 KiB files and 5-byte texts in turn until one
// is refused, adding those acknowledged to acked; it returns the bytes
// acknowledged, the refusal and how long it took.
func sendUntilRefused(t *testing.T, c *client, alice, bob user, acked map[string]sent) (int64, answer, time.Duration) {
	t.Helper()
	var ackedBytes int64
	for i := range 100000 {
		file := i%2 == 0
		data := []byte(fmt.Sprintf("t%04d", i%10000))
		if file {
			data = randomData(200 << 10)
		}
		a, took := sendTimed(t, c, alice, bob, data, file)
		if a.code() != 10000 {
			return ackedBytes, a, took
		}
		acked[a.str("msgid")] = sent{len(data), sha256.Sum256(data)}
		ackedBytes += int64(len(data))
	}
	t.Fatal("never refused")
	return 0, nil, 0
}

// checkDiskFullLog checks, once the space is back, that the gauge says
// the refusals are over, and that the log says "disk full" as they started
// and as they ended, and no other error.
func checkDiskFullLog(t *testing.T, p *proc) {
	t.Helper()
	if m := metric(t, p, "ringd_disk_full"); m != 0 {
		t.Errorf("ringd_disk_full %v after space was freed", m)
	}
	p.waitLog(t, "disk full: over") // read from ringd's stderr as it comes
	if n := p.logCount("disk full"); n != 2 {
		t.Errorf(`%d log lines say "disk full", want 2 (start and end):\n%s`, n, p.log)
	}
	if n := p.logCount("level=ERROR"); n != 1 {
		t.Errorf("%d ERROR lines, want 1 (disk full):\n%s", n, p.log)
	}
}

// TestDiskFullArenaSizesWithLittleFree starts ringd on a filesystem with
// less free space than an arena chunk: data of every size the arena
// takes still goes through, and nothing is logged as disk full.
func TestDiskFullArenaSizesWithLittleFree(t *testing.T) {
	const MiB = 1 << 20
	fs := mountTmpfs(t, 100*MiB)
	writeFiller(t, filepath.Join(fs, "filler"), 50*MiB)
	p := startRingd(t, filepath.Join(fs, "data"), "-admin-listen", "127.0.0.1:0")
	c := newClient(p.url)
	alice, bob := newUser(t, c, "Alice"), newUser(t, c, "Bob")
	acked := map[string]sent{}
	for _, size := range []int{4096 + 1, 64 << 10, 200 << 10, 1 << 20} {
		for range 3 {
			data := randomData(size)
			a, _ := sendTimed(t, c, alice, bob, data, true)
			if a.code() != 10000 {
				t.Fatalf("a send of %d bytes with %.1f MiB free: %v", size, float64(freeBytes(t, fs))/MiB, a)
			}
			acked[a.str("msgid")] = sent{len(data), sha256.Sum256(data)}
		}
	}
	checkAcknowledged(t, c, bob, acked)
	if n := p.logCount("disk full"); n != 0 {
		t.Errorf(`%d log lines say "disk full":\n%s`, n, p.log)
	}
}

// fillUp writes a file of other data at name until the filesystem has no
// room left at all.
func fillUp(t *testing.T, name string) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for n := 1 << 20; n > 0; {
		if _, err := f.Write(make([]byte, n)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			n /= 2
		}
	}
}

// TestDiskFullDatabaseWrites fills the filesystem to the last byte under
// ringd: writes the send checks do not guard (registers) fail in the
// database as 10001, and the log says "disk full" as they start and as the
// space comes back, not once per request; once the space is back they
// work again.
func TestDiskFullDatabaseWrites(t *testing.T) {
	fs := mountTmpfs(t, 32<<20)
	p := startRingd(t, filepath.Join(fs, "data"), "-admin-listen", "127.0.0.1:0")
	c := newClient(p.url)
	newUser(t, c, "Alice")
	filler := filepath.Join(fs, "filler")
	fillUp(t, filler)
	failed := 0
	for i := 0; i < 20000 && failed < 20; i++ {
		a, _, err := c.post(map[string]any{"req": "register"}, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch a.code() {
		case 10000:
		case 10001:
			failed++
		default:
			t.Fatalf("register on a full disk: %v", a)
		}
	}
	if failed == 0 {
		t.Fatal("registers never failed on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	newUser(t, c, "Bob")
	checkDiskFullLog(t, p)
}
