package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// `ringd backup -data DIR DEST`: a consistent copy of a data directory,
// taken while a ringd serves from it.
//
// A data directory is the database (ringd.db, in WAL mode), the arena's
// chunk files (arena/000000, ...) and the data files too large for the
// arena (blobs/xx/<sha256>). Rows of the database point into the other
// two, whose data was written and synced before its row committed. So the
// database is copied first, as one snapshot (SQLite's online backup, in a
// single step, under one read transaction that the server's writer does
// not wait for), and the data files after it: every row of the snapshot
// points at data already on disk, which stays as it is until the row is
// deleted. Only the janitor deletes rows, those past the retention window,
// so the data of a row it expires during the copy may be replaced by a
// newer send's: such a row is past retention in the copy too, and the
// copy's janitor deletes it.
//
// The arena's chunks are copied whole (a chunk made after the snapshot
// holds nothing the snapshot refers to and is left out). Data files never
// change once named (they are named by their content), so they are
// hard-linked when DEST is on the same filesystem and copied otherwise; a
// file deleted meanwhile was referred to by no row of the snapshot.

// backupUsage is the help of `ringd backup`.
const backupUsage = `Usage: ringd backup [-data DIR] DEST

Writes a consistent copy of the data directory DIR of a ringd, running or
stopped, to DEST: the database as one snapshot, then the arena's chunks and
the data files (hard-linked when DEST is on the same filesystem: they never
change). DEST must not exist or be empty. "ringd -data DEST" then serves the
copy, holding every message acknowledged before the backup began.

`

// postgresBackupAdvice is ringd backup's answer for the PostgreSQL engine.
const postgresBackupAdvice = `ringd backup: this ringd keeps its data in PostgreSQL (-database), not under -data.
Back it up with PostgreSQL's tools: pg_dump for a consistent copy, or continuous
archiving with point-in-time recovery (pg_basebackup and WAL archiving). With
-object-store, turn on versioning of the bucket (or replicate it), so that an
object a restored database names has not been deleted since: restore the
database, then the bucket as of the same time or later.`

// runBackup runs `ringd backup` with args (those after "backup") and
// returns the exit code.
func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "./data", "the data directory of the ringd to back up")
	database := fs.String("database", os.Getenv(envName("database")), "the -database of the ringd to back up: PostgreSQL is backed up with its own tools, and ringd backup refuses it")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), backupUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "ringd backup: one destination directory, please")
		fs.Usage()
		return 2
	}
	if *database != "" {
		fmt.Fprintln(stderr, postgresBackupAdvice)
		return 2
	}
	sum, err := backup(*data, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "ringd backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s: database %d bytes, %d arena chunks, %d data files (%d hard-linked)\n",
		*data, fs.Arg(0), sum.dbBytes, sum.chunks, sum.files, sum.linked)
	return 0
}

// backupSummary is what a backup copied.
type backupSummary struct {
	dbBytes               int64
	chunks, files, linked int
}

// backup copies the data directory src to dest, which must not exist or
// be empty; a failed backup leaves dest as it found it.
func backup(src, dest string) (sum backupSummary, err error) {
	db := filepath.Join(src, "ringd.db")
	if _, err := os.Stat(db); err != nil {
		return sum, fmt.Errorf("%s is no ringd data directory: %w", src, err)
	}
	made, err := emptyDest(dest)
	if err != nil {
		return sum, err
	}
	defer func() {
		if err != nil {
			clearDest(dest, made)
		}
	}()
	if sum.dbBytes, err = snapshotDB(db, filepath.Join(dest, "ringd.db")); err != nil {
		return sum, fmt.Errorf("database: %w", err)
	}
	if sum.chunks, err = copyArena(filepath.Join(src, "arena"), filepath.Join(dest, "arena")); err != nil {
		return sum, fmt.Errorf("arena: %w", err)
	}
	if sum.files, sum.linked, err = copyBlobs(filepath.Join(src, "blobs"), filepath.Join(dest, "blobs")); err != nil {
		return sum, fmt.Errorf("data files: %w", err)
	}
	return sum, syncDir(dest)
}

// emptyDest makes dest, or checks that it is an empty directory, and says
// whether it made it.
func emptyDest(dest string) (made bool, err error) {
	ents, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, os.MkdirAll(dest, 0o700)
	case err != nil:
		return false, err
	case len(ents) > 0:
		return false, fmt.Errorf("%s is not empty: give a new or empty directory", dest)
	}
	return false, nil
}

// clearDest undoes a failed backup: removes dest if it made it, else what
// it holds.
func clearDest(dest string, made bool) {
	if made {
		os.RemoveAll(dest)
		return
	}
	ents, _ := os.ReadDir(dest)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dest, e.Name()))
	}
}

// snapshotDB copies the database at src to a new file dest, as one
// snapshot, synced, and returns its size.
func snapshotDB(src, dest string) (int64, error) {
	from, err := openSQLite(src, "mode=ro")
	if err != nil {
		return 0, err
	}
	defer from.Close()
	to, err := openSQLite(dest, "mode=rwc")
	if err != nil {
		return 0, err
	}
	defer to.Close()
	ctx := context.Background()
	fromConn, err := from.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer fromConn.Close()
	toConn, err := to.Conn(ctx)
	if err != nil {
		return 0, err
	}
	err = toConn.Raw(func(t any) error {
		return fromConn.Raw(func(f any) error {
			return onlineBackup(t.(*sqlite3.SQLiteConn), f.(*sqlite3.SQLiteConn))
		})
	})
	toConn.Close()
	if err != nil {
		return 0, err
	}
	if err := to.Close(); err != nil {
		return 0, err
	}
	return syncFile(dest)
}

// openSQLite opens the database at path with the URI parameters params.
func openSQLite(path, params string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return sql.Open("sqlite3", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?_busy_timeout=5000&"+params)
}

// backupPatience is how long the snapshot may wait for a moment when the
// database can be read (a reader waits only while a connection recovers
// the WAL after a crash).
const backupPatience = time.Minute

// onlineBackup copies all of from into to in one step, that is under one
// read transaction of from's: a consistent snapshot however the server
// writes meanwhile.
func onlineBackup(to, from *sqlite3.SQLiteConn) error {
	b, err := to.Backup("main", from, "main")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(backupPatience)
	for {
		done, err := b.Step(-1)
		if err != nil {
			b.Finish()
			return err
		}
		if done {
			return b.Finish()
		}
		if time.Now().After(deadline) {
			b.Finish()
			return errors.New("the database stayed locked")
		}
		time.Sleep(10 * time.Millisecond) // locked: nothing to wait on but time
	}
}

// copyArena copies the arena's named chunks (whole and synced once named:
// a chunk still being made has a temporary name) from src to dest.
func copyArena(src, dest string) (int, error) {
	ents, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // no arena yet: no row refers to one
	}
	if err != nil {
		return 0, err
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil || len(e.Name()) != 6 || !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dest, e.Name())); err != nil {
			return n, err
		}
		n++
	}
	return n, syncDir(dest)
}

// copyBlobs links or copies the data files under src (blobs/xx/hash) to
// dest, and returns how many it took and how many of those it linked. The
// files in the making (blobs/tmp) are left out.
func copyBlobs(src, dest string) (files, linked int, err error) {
	subs, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return 0, 0, err
	}
	for _, sub := range subs {
		if !sub.IsDir() || sub.Name() == "tmp" {
			continue
		}
		f, l, err := copyBlobDir(filepath.Join(src, sub.Name()), filepath.Join(dest, sub.Name()))
		files, linked = files+f, linked+l
		if err != nil {
			return files, linked, err
		}
	}
	return files, linked, syncDir(dest)
}

// copyBlobDir links or copies the files of one directory of data files.
func copyBlobDir(src, dest string) (files, linked int, err error) {
	ents, err := os.ReadDir(src)
	if err != nil {
		return 0, 0, err
	}
	if err := os.Mkdir(dest, 0o700); err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dest, e.Name())
		err := os.Link(from, to)
		if err == nil {
			files, linked = files+1, linked+1
			continue
		}
		if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) {
			err = copyFile(from, to) // another filesystem, or one without links
		}
		switch {
		case err == nil:
			files++
		case errors.Is(err, fs.ErrNotExist):
			// Deleted since the snapshot: no row of it refers to the file.
		default:
			return files, linked, err
		}
	}
	return files, linked, syncDir(dest)
}

// copyFile copies src to a new file dest and syncs it.
func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range where it can
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncFile syncs the file at path and returns its size.
func syncFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// syncDir syncs a directory, so the names made in it last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
