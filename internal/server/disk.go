package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/ringd/ringd/internal/blob"
	"github.com/ringd/ringd/internal/store"
)

// A send is refused for lack of space (10001, at once) only when the data
// filesystem cannot hold it and still keep cfg.DiskReserve free: data
// written to a file of its own needs its length and the reserve; a send
// that only adds rows to the database (a text, data the arena has room for)
// needs half the reserve, so texts go on after files are refused, and the
// last half is left for the database's log and the janitor's deletes, which
// free space. Whatever slips past the checks (another process filling the
// disk) fails in its write, and is answered and logged the same way.
//
// Refusals are not logged one by one: the log says "disk full" when they
// start and again when the space is back (with a margin, so that a disk
// that hovers at the limit does not fill the log).

// errDiskFull is a send refused by the checks below.
var errDiskFull = errors.New("disk full")

// noSpace reports whether err is a refusal or a write that failed for lack
// of space.
func noSpace(err error) bool {
	return errors.Is(err, errDiskFull) || errors.Is(err, blob.ErrNoSpace) ||
		errors.Is(err, store.ErrDiskFull) || errors.Is(err, syscall.ENOSPC)
}

// A reading of the free space serves the checks of texts for freshFor
// while it is farAbove their need or more: reading it is a system call,
// which texts, the cheapest sends, would feel at every send. Nearer the
// limit, and for every file, each check reads it.
const (
	freshFor = 100 * time.Millisecond
	farAbove = 64 << 20
)

// diskSpace watches the free space of the data filesystem for sends.
type diskSpace struct {
	dir     string // "" watches nothing: every check passes
	reserve int64
	log     *slog.Logger
	now     func() time.Time // monotonic, for the age of a reading

	mu   sync.Mutex // guards the following
	last int64      // free bytes at the last reading
	at   time.Time  // when it was taken; zero: none yet
	full bool       // refusing: between the two log lines
	need int64      // the most free space a send refused since full began needed
}

func newDiskSpace(dir string, reserve int64, log *slog.Logger) *diskSpace {
	return &diskSpace{dir: dir, reserve: reserve, log: log, now: time.Now}
}

// roomForRows checks that a send that adds only database rows may.
func (d *diskSpace) roomForRows() error { return d.room(d.reserve/2, false) }

// RoomForFile checks that a send may write n bytes into a file of their
// own: the store asks it (sqlite.Options.FileRoom) when it puts data
// there.
func (s *Server) RoomForFile(n int64) error { return s.disk.roomForFile(n) }

// roomForFile checks that a send may write n bytes into a file of their own.
func (d *diskSpace) roomForFile(n int64) error { return d.room(n+d.reserve, true) }

// room checks that the filesystem has need bytes free, reading it afresh
// unless a recent reading shows it far above that.
func (d *diskSpace) room(need int64, fresh bool) error {
	if d.dir == "" {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	free, ok := d.last, !d.at.IsZero()
	if fresh || d.full || !ok || free < need+farAbove || d.now().Sub(d.at) > freshFor {
		free, ok = d.readLocked()
	}
	if !ok || free >= need {
		return nil // unknown: the writes will tell
	}
	d.refusedLocked(need, free)
	return fmt.Errorf("%w: %d bytes free, the send needs %d", errDiskFull, free, need)
}

// readLocked reads the free space; d.mu is held. A reading with room again
// for the largest send refused, and a margin, ends the refusals.
func (d *diskSpace) readLocked() (int64, bool) {
	free, err := blob.FreeSpace(d.dir)
	if err != nil {
		return 0, false
	}
	d.last, d.at = free, d.now()
	if d.full && free >= d.need+d.reserve/2 {
		d.full, d.need = false, 0
		d.log.Info("disk full: over, sends accepted again", "free_bytes", free)
	}
	return free, true
}

// refusedLocked records a send refused for want of need bytes free; the
// first of a run says so in the log. d.mu is held.
func (d *diskSpace) refusedLocked(need, free int64) {
	d.need = max(d.need, need)
	if d.full {
		return
	}
	d.full = true
	d.log.Error("disk full: refusing sends", "dir", d.dir, "free_bytes", free, "reserve_bytes", d.reserve)
}

// failed records a request whose write failed for lack of space; false
// if nothing is watched, and the failure is the caller's to log.
func (d *diskSpace) failed() bool {
	if d.dir == "" {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	free, _ := d.readLocked()
	d.refusedLocked(d.reserve, free)
	return true
}

// free reads the free space for the metrics; -1 when it cannot be read.
func (d *diskSpace) free() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	free, ok := d.readLocked()
	if !ok {
		return -1
	}
	return float64(free)
}

// isFull reports whether sends are being refused for lack of space,
// reading the free space again while they are: a request that does not
// check for room (a register) may have started the refusals.
func (d *diskSpace) isFull() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.full {
		d.readLocked()
	}
	return d.full
}
