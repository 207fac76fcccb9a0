package sqlite

import (
	"context"
)

// ArenaBlobs calls fn with the arena offset and length of every blob record
// whose data is in the blob arena: the space the arena must keep when it
// opens (blob.OpenArena). Everything else in the arena is free, which is
// what makes data written by a send that never committed free again.
func (db *DB) ArenaBlobs(ctx context.Context, fn func(off, length int64) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT arena_off, length FROM blobs WHERE arena_off IS NOT NULL`)
	if err != nil {
		return mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var off, length int64
		if err := rows.Scan(&off, &length); err != nil {
			return err
		}
		if err := fn(off, length); err != nil {
			return err
		}
	}
	return mapErr(rows.Err())
}
