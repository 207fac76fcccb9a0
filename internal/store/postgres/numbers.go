package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ringd/ringd/internal/store"
)

func (db *DB) Register(ctx context.Context, number string, uuid store.UUIDHash, now time.Time) error {
	return db.write(ctx, func(tx *wtx) error {
		var reserved bool
		err := tx.QueryRow(ctx, `SELECT EXISTS(SELECT 1 FROM reserved WHERE number = $1)`, number).Scan(&reserved)
		if err != nil {
			return err
		}
		if reserved {
			return store.ErrReserved
		}
		// Either unique key (the number, the uuid) refuses a second
		// register, whichever of two concurrent ones commits first.
		tag, err := tx.Exec(ctx, `INSERT INTO numbers(number, uuid_hash, created) VALUES($1, $2, $3)
			ON CONFLICT DO NOTHING`, number, uuid[:], now.Unix())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrTaken
		}
		return nil
	})
}

// hashes is uuids as the bytea values PostgreSQL compares them as.
func hashes(uuids []store.UUIDHash) [][]byte {
	out := make([][]byte, len(uuids))
	for i := range uuids {
		out[i] = uuids[i][:]
	}
	return out
}

// querier is what both the pool and a transaction read through.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// numbersByUUID reads the numbers of uuids, in their order, in one query;
// ErrUnknownUUID if any is unknown.
func numbersByUUID(ctx context.Context, q querier, uuids []store.UUIDHash) ([]store.Number, error) {
	if len(uuids) == 0 {
		return []store.Number{}, nil
	}
	rows, err := q.Query(ctx, `SELECT uuid_hash, number, name, coalesce(token, '') FROM numbers
		WHERE uuid_hash = ANY($1)`, hashes(uuids))
	if err != nil {
		return nil, err
	}
	found := make(map[store.UUIDHash]store.Number, len(uuids))
	var hash []byte
	var n store.Number
	_, err = pgx.ForEachRow(rows, []any{&hash, &n.Number, &n.Name, &n.Token}, func() error {
		found[store.UUIDHash(hash)] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Number, 0, len(uuids))
	for _, u := range uuids {
		n, ok := found[u]
		if !ok {
			return nil, store.ErrUnknownUUID
		}
		out = append(out, n)
	}
	return out, nil
}

func (db *DB) NumbersByUUID(ctx context.Context, uuids []store.UUIDHash) ([]store.Number, error) {
	out, err := numbersByUUID(ctx, db.pool, uuids)
	return out, mapErr(err)
}

func (db *DB) Number(ctx context.Context, number string) (store.Number, error) {
	n := store.Number{Number: number}
	var d store.Device
	var appid, build, name, locale *string
	err := db.pool.QueryRow(ctx, `SELECT n.name, coalesce(n.token, ''), d.appid, d.build, d.name, d.locale
		FROM numbers n LEFT JOIN devices d ON d.token = n.token WHERE n.number = $1`, number).
		Scan(&n.Name, &n.Token, &appid, &build, &name, &locale)
	if notFound(err) {
		return store.Number{}, store.ErrNotFound
	}
	if err != nil {
		return store.Number{}, mapErr(err)
	}
	if n.Token != "" && appid != nil {
		d = store.Device{Token: n.Token, AppID: *appid, Build: *build, Name: *name, Locale: *locale}
		n.Device = &d
	}
	return n, nil
}

func (db *DB) Login(ctx context.Context, dev store.Device, uuids []store.UUIDHash, now time.Time) ([]string, error) {
	var numbers []string
	err := db.write(ctx, func(tx *wtx) error {
		bound, err := numbersByUUID(ctx, tx, uuids)
		if err != nil {
			return err
		}
		numbers = make([]string, len(bound))
		for i, n := range bound {
			numbers[i] = n.Number
		}
		return tx.login(ctx, dev, numbers, now)
	})
	if err != nil {
		return nil, err
	}
	return numbers, nil
}

// login binds numbers to dev, first unbinding what dev.Token held.
//
// It locks what it changes in one order, which UnbindToken keeps too:
// first the device's row (storing the device, or, for a logout, locking
// the row it deletes), then, by number, the numbers it binds and those
// bound to the token. Holding the device's row, no other login can bind a
// number to the token, so every row this login changes is locked in that
// order, and logins moving numbers between devices at once queue rather
// than deadlock. A deadlock PostgreSQL still reports is retried (write).
func (tx *wtx) login(ctx context.Context, dev store.Device, numbers []string, now time.Time) error {
	var err error
	if len(numbers) == 0 {
		_, err = tx.Exec(ctx, `SELECT 1 FROM devices WHERE token = $1 FOR UPDATE`, dev.Token)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO devices(token, appid, build, name, locale, updated) VALUES($1, $2, $3, $4, $5, $6)
			ON CONFLICT(token) DO UPDATE SET appid = excluded.appid, build = excluded.build,
			name = excluded.name, locale = excluded.locale, updated = excluded.updated`,
			dev.Token, dev.AppID, dev.Build, dev.Name, dev.Locale, now.Unix())
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT 1 FROM numbers WHERE number = ANY($1) OR token = $2
		ORDER BY number FOR UPDATE`, numbers, dev.Token)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE numbers SET token = NULL WHERE token = $1`, dev.Token); err != nil {
		return err
	}
	if len(numbers) == 0 {
		_, err := tx.Exec(ctx, `DELETE FROM devices WHERE token = $1`, dev.Token)
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE numbers SET token = $1, name = $2 WHERE number = ANY($3)`, dev.Token, dev.Name, numbers)
	return err
}
