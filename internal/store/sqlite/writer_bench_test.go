package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process has used, user and system: on a
// shared machine it moves less than the wall time with others' load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriterInsert is the writer's statement of a text send alone: the
// INSERT of its message row, 1000 to a write operation so that the commit
// and its sync are spread thin. What it measures beside SQLite's own work
// is the path from tx.exec to the driver.
func BenchmarkWriterInsert(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "ringd.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	text := bytes.Repeat([]byte("x"), 100)
	var fname any
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for left := b.N; left > 0; left -= 1000 {
		err := db.write(ctx, func(tx *wtx) error {
			for i := range min(left, 1000) {
				callee := []string{"10000001", "10000002", "10000003", "10000004"}[i%4]
				if _, err := tx.exec(`INSERT INTO messages(caller, caller_name, callee, time, uri, length, fname, data) VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
					"10000000", "Alice", callee, int64(1764489600), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", int64(len(text)), fname, text); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkWriterQueryRow is the writer's lookup of one row, as of a
// sender or a callee not in its copy of the bindings: 1000 to a write
// operation. What it measures beside SQLite's own work is the path from
// tx.queryRow to the driver and back through Scan.
func BenchmarkWriterQueryRow(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "ringd.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO numbers(number, uuid_hash, name, token, created) VALUES('10000001', x'01', 'Alice', 'tok', 0)`)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for left := b.N; left > 0; left -= 1000 {
		err := db.write(ctx, func(tx *wtx) error {
			for range min(left, 1000) {
				var name, token string
				if err := tx.queryRow(`SELECT name, token FROM numbers WHERE number = ?`, "10000001").Scan(&name, &token); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
