package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/ringd/ringd/internal/store"
)

func (db *DB) Register(ctx context.Context, number string, uuid store.UUIDHash, now time.Time) error {
	return db.write(ctx, func(tx *wtx) error {
		var one int
		err := tx.queryRow(`SELECT 1 FROM reserved WHERE number = ?`, number).Scan(&one)
		if err == nil {
			return store.ErrReserved
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.exec(`INSERT INTO numbers(number, uuid_hash, created) VALUES(?, ?, ?)`,
			number, uuid[:], now.Unix())
		if err != nil && strings.Contains(err.Error(), "UNIQUE") {
			return store.ErrTaken
		}
		return err
	})
}

func (db *DB) NumbersByUUID(ctx context.Context, uuids []store.UUIDHash) ([]store.Number, error) {
	out := make([]store.Number, 0, len(uuids))
	for _, u := range uuids {
		var n store.Number
		var token sql.NullString
		err := db.rqueryRow(ctx, `SELECT number, name, token FROM numbers WHERE uuid_hash = ?`, u[:]).
			Scan(&n.Number, &n.Name, &token)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrUnknownUUID
		}
		if err != nil {
			return nil, mapErr(err)
		}
		n.Token = token.String
		out = append(out, n)
	}
	return out, nil
}

func (db *DB) Number(ctx context.Context, number string) (store.Number, error) {
	var n store.Number
	var token sql.NullString
	err := db.rqueryRow(ctx, `SELECT number, name, token FROM numbers WHERE number = ?`, number).
		Scan(&n.Number, &n.Name, &token)
	if errors.Is(err, sql.ErrNoRows) {
		return n, store.ErrNotFound
	}
	if err != nil {
		return n, mapErr(err)
	}
	n.Token = token.String
	if n.Token != "" {
		d := &store.Device{Token: n.Token}
		err := db.rqueryRow(ctx, `SELECT appid, build, name, locale FROM devices WHERE token = ?`, n.Token).
			Scan(&d.AppID, &d.Build, &d.Name, &d.Locale)
		if err == nil {
			n.Device = d
		} else if !errors.Is(err, sql.ErrNoRows) {
			return n, mapErr(err)
		}
	}
	return n, nil
}

func (db *DB) Login(ctx context.Context, dev store.Device, uuids []store.UUIDHash, now time.Time) ([]string, error) {
	var numbers []string
	err := db.write(ctx, func(tx *wtx) error {
		numbers = make([]string, 0, len(uuids))
		for _, u := range uuids {
			var n string
			err := tx.queryRow(`SELECT number FROM numbers WHERE uuid_hash = ?`, u[:]).Scan(&n)
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrUnknownUUID
			}
			if err != nil {
				return err
			}
			numbers = append(numbers, n)
		}
		if _, err := tx.exec(`UPDATE numbers SET token = NULL WHERE token = ?`, dev.Token); err != nil {
			return err
		}
		if len(numbers) == 0 {
			_, err := tx.exec(`DELETE FROM devices WHERE token = ?`, dev.Token)
			return err
		}
		for _, n := range numbers {
			if _, err := tx.exec(`UPDATE numbers SET token = ?, name = ? WHERE number = ?`, dev.Token, dev.Name, n); err != nil {
				return err
			}
		}
		// The count only grows, and never goes back to a device: a push
		// made before this login holds a lower one (Push.Login).
		if _, err := tx.exec(`UPDATE login_count SET n = n + 1`); err != nil {
			return err
		}
		_, err := tx.exec(`INSERT INTO devices(token, appid, build, name, locale, updated, login)
			VALUES(?, ?, ?, ?, ?, ?, (SELECT n FROM login_count))
			ON CONFLICT(token) DO UPDATE SET appid = excluded.appid, build = excluded.build,
			name = excluded.name, locale = excluded.locale, updated = excluded.updated, login = excluded.login`,
			dev.Token, dev.AppID, dev.Build, dev.Name, dev.Locale, now.Unix())
		return err
	})
	if err != nil {
		return nil, err
	}
	return numbers, nil
}
