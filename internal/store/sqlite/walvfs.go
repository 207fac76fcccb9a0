package sqlite

// #include "walvfs.h"
import "C"

import (
	"fmt"
	"sync"
)

// The WAL write joiner (walvfs.c) is a VFS shim that makes each of the
// writer's transactions one write call to the WAL file where SQLite makes
// two per page: a frame's 24-byte header, then its page. Under the text
// send load a commit writes about one page per send, and on a virtual
// machine a write call costs more than its page (docs/PERFORMANCE.md,
// "The WAL write joiner").
//
// The joiner holds the frames SQLite appends (a 24-byte header, then its
// page, each where the last write ended) and writes them all when the
// commit frame's page comes: that is SQLite's last write of the
// transaction before it publishes the commit to other connections in the
// wal-index (shared memory, with no call to the file), so no reader can
// ever see a commit whose frames are not in the file. Any write that does
// not continue the appended frames (the WAL's header, a frame rewritten in
// place, a checksum rewritten after a commit), and every read, sync, size
// or truncation, first writes what is held, so the file sees every write
// in SQLite's order; so does any write of another shape, should a later
// SQLite write frames otherwise (it would then only not be joined, and
// TestWALJoinAssumptions would say so). Nothing changes for
// durability: the syncer's fdatasync (walsync.go) comes after COMMIT
// returns, when nothing is held. Only the writer's connection uses the
// joiner, and only for its WAL; every other file is the unix VFS's,
// unwrapped.

// walJoinVFS is the joiner's name, for the writer's DSN (vfs=).
const walJoinVFS = C.RINGD_WAL_VFS

var (
	walJoinOnce sync.Once
	walJoinErr  error
)

// registerWALJoin registers the joiner with SQLite, once.
func registerWALJoin() error {
	walJoinOnce.Do(func() {
		if rc := C.ringdWalJoinRegister(); rc != C.SQLITE_OK {
			walJoinErr = fmt.Errorf("sqlite: registering the WAL write joiner: code %d", int(rc))
		}
	})
	return walJoinErr
}

// walJoinCounts returns the writes the joiners took from SQLite and the
// writes they made to files, in this process so far.
func walJoinCounts() (in, out int64) {
	var i, o C.sqlite3_int64
	C.ringdWalJoinCounts(&i, &o)
	return int64(i), int64(o)
}

// walJoinBase returns the name of the VFS the joiner wraps (SQLite's
// default when it was registered), "" before it is.
func walJoinBase() string {
	return C.GoString(C.ringdWalJoinBaseName())
}
