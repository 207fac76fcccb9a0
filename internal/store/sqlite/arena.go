package sqlite

import (
	"context"
)

// arenaRows calls fn with the arena offset and length of every record
// whose data is in the blob arena: blobs rows, and messages that hold their
// own extent (a file to one number). That is the space the arena must keep
// when it opens (blob.OpenArena). Everything else in the arena is free,
// which is what makes data written by a send that never committed free
// again. Messages have no index on arena_off (one would be a random page
// written per file send): this reads them all, once per start.
func (db *DB) arenaRows(ctx context.Context, fn func(off, length int64) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT arena_off, length FROM blobs WHERE arena_off IS NOT NULL
		UNION ALL SELECT arena_off, length FROM messages WHERE arena_off IS NOT NULL`)
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
