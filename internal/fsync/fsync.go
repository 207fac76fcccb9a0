// Package fsync owns the one flush ringd's durable writes share: fdatasync,
// which makes a file's data, and the metadata needed to read it back (its
// size, its blocks), durable, but not its times. The WAL's syncer
// (store/sqlite), the arena's sync rounds (blob) and ringbench disk all
// flush through it. It also owns the check that a path still names the
// file being synced (Identity), made so as not to add to what the flush
// has to write.
package fsync

import "os"

// Datasync flushes f's data to the disk: fdatasync where the system has
// it (as SQLite itself syncs its WAL on Linux), fsync elsewhere.
func Datasync(f *os.File) error { return datasync(f) }
