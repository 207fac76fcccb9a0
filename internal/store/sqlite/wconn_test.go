package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

// scanned is one of each type the store scans into.
type scanned struct {
	i64   int64
	i     int
	s     string
	b     []byte
	f     float64
	ok    bool
	ns    sql.NullString
	ni    sql.NullInt64
	state store.State
	call  store.CallState
}

func (v *scanned) dest() []any {
	return []any{&v.i64, &v.i, &v.s, &v.b, &v.f, &v.ok, &v.ns, &v.ni, &v.state, &v.call}
}

// The writer's connection is go-sqlite3's own, not database/sql's, and
// its rows scan what database/sql's scan, the same way: the same values
// for each type the store scans into, converted alike (a number into a
// string, text into a number, an integer into a bool or a type defined on
// int), NULL where the type takes it, the same refusals, sql.ErrNoRows
// for no row, and an error for the wrong number of arguments.
func TestWriterScansAsDatabaseSQL(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "w.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, q := range []string{
		`SELECT 42, 7, 'text', x'00ff', 1.5, 1, 'shared', 9, 2, 3`,
		`SELECT '42', '7', 42, 'as bytes', 2, 0, NULL, NULL, '1', 0`,
		`SELECT -1, 0, '', x'', 0.0, 2, '', 0, 0, 1`,
		`SELECT 1, 1, 's', NULL, 1, 1, 's', 1, 1, 1`,     // NULL into []byte
		`SELECT NULL, 1, 's', x'01', 1, 1, 's', 1, 1, 1`, // NULL into int64: refused
		`SELECT 1, 1, NULL, x'01', 1, 1, 's', 1, 1, 1`,   // NULL into string: refused
		`SELECT 'x', 1, 's', x'01', 1, 1, 's', 1, 1, 1`,  // text into int64: refused
		`SELECT 1, 1, 's', x'01', 1, 1, 's', 1, 1, 1.5`,  // a float into a type on int: refused
		`SELECT 1, 1, 's', x'01', 1, 1, 's', 1, 1, 1 WHERE 0`,
	} {
		var want, got scanned
		wantErr := db.read.QueryRow(q).Scan(want.dest()...)
		var gotErr error
		if err := db.write(ctx, func(tx *wtx) error {
			gotErr = tx.queryRow(q).Scan(got.dest()...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if (gotErr == nil) != (wantErr == nil) || errors.Is(wantErr, sql.ErrNoRows) != errors.Is(gotErr, sql.ErrNoRows) {
			t.Errorf("%s:\nwriter's error %v\ndatabase/sql's %v", q, gotErr, wantErr)
			continue
		}
		if wantErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\nwriter scanned %+v\ndatabase/sql   %+v", q, got, want)
		}
	}
	err = db.write(ctx, func(tx *wtx) error {
		var n int
		if err := tx.queryRow(`SELECT ? + ?`, 1).Scan(&n); err == nil {
			return fmt.Errorf("one argument for two: scanned %d", n)
		}
		rows, err := tx.query(`WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 3) SELECT value FROM s`)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := rows.Scan(&n); err == nil {
			return errors.New("Scan before Next succeeded")
		}
		sum := 0
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				return err
			}
			sum += n
		}
		if err := rows.Err(); err != nil || sum != 6 {
			return fmt.Errorf("rows summed to %d, %v; want 6", sum, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
