// The WAL write joiner: a VFS shim over SQLite's default (unix) VFS that
// writes each transaction's WAL frames with one write call. walvfs.go says
// why and when it is used.

#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

// The SQLite API is linked in from go-sqlite3's amalgamation (or the
// system's libsqlite3 with its libsqlite3 build tag). The references are
// weak because cgo links this package's objects once on their own, to
// find their dynamic imports, before the final link joins them to
// go-sqlite3's.
extern sqlite3_vfs *sqlite3_vfs_find(const char *zVfsName) __attribute__((weak));
extern int sqlite3_vfs_register(sqlite3_vfs *, int makeDflt) __attribute__((weak));

// WAL_FRAME_HDR is the size of a WAL frame's header; bytes 4..7 of it are
// the database size after the commit, non-zero only on a transaction's
// last frame (its commit frame).
#define WAL_FRAME_HDR 24

// JOIN_MAX is the most a joiner holds before it writes: a transaction
// larger than this is written in pieces of about this size. The unix VFS
// writes at most 128 KiB - 1 in one call (seekAndWriteFd masks the length
// with 0x1ffff; a larger write fails as SQLITE_FULL), hence 124 KiB.
#define JOIN_MAX (124 << 10)

typedef struct joinFile joinFile;
struct joinFile {
	sqlite3_file base;     // pMethods: joinMethods
	sqlite3_file *real;    // the unix VFS's file, just after this struct
	char *buf;             // frames held, not yet written (malloc'd, JOIN_MAX)
	int len;               // bytes held in buf
	sqlite3_int64 bufOff;  // file offset of buf[0]
	sqlite3_int64 end;     // end offset of the last write taken; -1: unknown
	int pageNext;          // the last write held was a frame's header
	int commitNext;        // ... and that of the commit frame
};

// Writes taken from SQLite and writes made to files, by every joiner; read
// by tests (walvfs.go).
static sqlite3_int64 writesIn, writesOut;

static sqlite3_vfs *baseVfs;
static sqlite3_vfs joinVfs;
static sqlite3_io_methods joinMethods;

// joinFlush writes what buf holds, with one write call.
static int joinFlush(joinFile *p) {
	int rc;
	if (p->len == 0) {
		return SQLITE_OK;
	}
	rc = p->real->pMethods->xWrite(p->real, p->buf, p->len, p->bufOff);
	__atomic_add_fetch(&writesOut, 1, __ATOMIC_RELAXED);
	p->len = 0;
	if (rc != SQLITE_OK) {
		// What was held is lost: the transaction that wrote it fails with
		// this error, and nothing may be appended to it as if it were
		// there.
		p->end = -1;
	}
	return rc;
}

static int joinWrite(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off) {
	joinFile *p = (joinFile *)f;
	const unsigned char *b = data;
	int rc, page = p->pageNext, commit = p->commitNext;
	__atomic_add_fetch(&writesIn, 1, __ATOMIC_RELAXED);
	p->pageNext = p->commitNext = 0;
	// Only a frame's header, and then its page, each continuing the
	// frames appended so far, are held. Anything else (the WAL header at
	// offset 0, a frame or a checksum rewritten in place, or a write of a
	// shape this code does not know, should SQLite ever write frames
	// otherwise) writes what is held first and then goes straight to the
	// file: the file sees every write in SQLite's order, and a pattern
	// not recognised is only not joined, never held back.
	if (off != p->end || (amt != WAL_FRAME_HDR && !page) || p->len + amt > JOIN_MAX) {
		rc = joinFlush(p);
		if (rc != SQLITE_OK) {
			return rc;
		}
		if (off == p->end && amt == WAL_FRAME_HDR) {
			goto hold; // a header after a full buffer: start the next one
		}
		rc = p->real->pMethods->xWrite(p->real, data, amt, off);
		__atomic_add_fetch(&writesOut, 1, __ATOMIC_RELAXED);
		p->end = rc == SQLITE_OK ? off + amt : -1;
		return rc;
	}
hold:
	if (p->len == 0) {
		p->bufOff = off;
	}
	memcpy(p->buf + p->len, data, amt);
	p->len += amt;
	p->end = off + amt;
	if (page) {
		// The commit frame's page is the transaction's last write before
		// SQLite publishes the commit in the wal-index, which other
		// connections read at once and with no call to this file: so
		// everything is in the file when that write returns.
		return commit ? joinFlush(p) : SQLITE_OK;
	}
	// A header: its page comes next. Bytes 4..7 are the database size
	// after the commit, non-zero only in the commit frame.
	p->pageNext = 1;
	p->commitNext = (b[4] | b[5] | b[6] | b[7]) != 0;
	return SQLITE_OK;
}

// Every other method writes what is held first, so that reads, sizes,
// syncs and truncations see the file as SQLite wrote it.

static int joinClose(sqlite3_file *f) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	int rc2 = p->real->pMethods->xClose(p->real);
	free(p->buf);
	p->buf = 0;
	return rc != SQLITE_OK ? rc : rc2;
}

static int joinRead(sqlite3_file *f, void *data, int amt, sqlite3_int64 off) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return p->real->pMethods->xRead(p->real, data, amt, off);
}

static int joinTruncate(sqlite3_file *f, sqlite3_int64 size) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	p->end = -1;
	p->pageNext = p->commitNext = 0;
	return p->real->pMethods->xTruncate(p->real, size);
}

static int joinSync(sqlite3_file *f, int flags) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return p->real->pMethods->xSync(p->real, flags);
}

static int joinFileSize(sqlite3_file *f, sqlite3_int64 *size) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return p->real->pMethods->xFileSize(p->real, size);
}

static int joinLock(sqlite3_file *f, int lock) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xLock(p->real, lock);
}

static int joinUnlock(sqlite3_file *f, int lock) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xUnlock(p->real, lock);
}

static int joinCheckReservedLock(sqlite3_file *f, int *out) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}

static int joinFileControl(sqlite3_file *f, int op, void *arg) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return p->real->pMethods->xFileControl(p->real, op, arg);
}

static int joinSectorSize(sqlite3_file *f) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xSectorSize(p->real);
}

static int joinDeviceCharacteristics(sqlite3_file *f) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}

// A WAL file is never memory-mapped nor used as shared memory (those are
// the database file's), but the methods are passed on all the same.

static int joinShmMap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}

static int joinShmLock(sqlite3_file *f, int offset, int n, int flags) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}

static void joinShmBarrier(sqlite3_file *f) {
	joinFile *p = (joinFile *)f;
	p->real->pMethods->xShmBarrier(p->real);
}

static int joinShmUnmap(sqlite3_file *f, int deleteFlag) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xShmUnmap(p->real, deleteFlag);
}

static int joinFetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp) {
	joinFile *p = (joinFile *)f;
	int rc = joinFlush(p);
	if (rc != SQLITE_OK) {
		return rc;
	}
	return p->real->pMethods->xFetch(p->real, off, amt, pp);
}

static int joinUnfetch(sqlite3_file *f, sqlite3_int64 off, void *ptr) {
	joinFile *p = (joinFile *)f;
	return p->real->pMethods->xUnfetch(p->real, off, ptr);
}

// joinOffset is where the real file starts in the memory SQLite gives
// xOpen (szOsFile bytes), aligned for any type.
#define joinOffset ((sizeof(joinFile) + 15) & ~(size_t)15)

static int joinOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *outFlags) {
	joinFile *p = (joinFile *)f;
	int rc;
	(void)vfs;
	if ((flags & SQLITE_OPEN_WAL) == 0) {
		// Every other file is the unix VFS's own, unwrapped.
		return baseVfs->xOpen(baseVfs, name, f, flags, outFlags);
	}
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)((char *)f + joinOffset);
	p->buf = malloc(JOIN_MAX);
	if (p->buf == 0) {
		return SQLITE_NOMEM;
	}
	rc = baseVfs->xOpen(baseVfs, name, p->real, flags, outFlags);
	if (rc != SQLITE_OK) {
		free(p->buf);
		p->buf = 0;
		return rc; // base.pMethods stays 0: SQLite will not close it
	}
	if (p->real->pMethods == 0) {
		free(p->buf);
		p->buf = 0;
		return SQLITE_CANTOPEN;
	}
	p->end = -1;
	joinMethods.iVersion = p->real->pMethods->iVersion;
	p->base.pMethods = &joinMethods;
	return SQLITE_OK;
}

int ringdWalJoinRegister(void) {
	if (sqlite3_vfs_find == 0 || sqlite3_vfs_register == 0) {
		return SQLITE_ERROR; // not linked: never, with go-sqlite3
	}
	if (sqlite3_vfs_find(RINGD_WAL_VFS) != 0) {
		return SQLITE_OK;
	}
	baseVfs = sqlite3_vfs_find(0);
	if (baseVfs == 0) {
		return SQLITE_ERROR;
	}
	joinMethods = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = joinClose,
		.xRead = joinRead,
		.xWrite = joinWrite,
		.xTruncate = joinTruncate,
		.xSync = joinSync,
		.xFileSize = joinFileSize,
		.xLock = joinLock,
		.xUnlock = joinUnlock,
		.xCheckReservedLock = joinCheckReservedLock,
		.xFileControl = joinFileControl,
		.xSectorSize = joinSectorSize,
		.xDeviceCharacteristics = joinDeviceCharacteristics,
		.xShmMap = joinShmMap,
		.xShmLock = joinShmLock,
		.xShmBarrier = joinShmBarrier,
		.xShmUnmap = joinShmUnmap,
		.xFetch = joinFetch,
		.xUnfetch = joinUnfetch,
	};
	// Every VFS method but xOpen is the base's: the unix VFS's read
	// nothing of the vfs they are given but mxPathname and pAppData, which
	// the copy keeps.
	joinVfs = *baseVfs;
	joinVfs.pNext = 0;
	joinVfs.zName = RINGD_WAL_VFS;
	joinVfs.szOsFile = (int)(joinOffset + baseVfs->szOsFile);
	joinVfs.xOpen = joinOpen;
	return sqlite3_vfs_register(&joinVfs, 0);
}

void ringdWalJoinCounts(sqlite3_int64 *in, sqlite3_int64 *out) {
	*in = __atomic_load_n(&writesIn, __ATOMIC_RELAXED);
	*out = __atomic_load_n(&writesOut, __ATOMIC_RELAXED);
}

const char *ringdWalJoinBaseName(void) {
	return baseVfs != 0 && baseVfs->zName != 0 ? baseVfs->zName : "";
}
