package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/mattn/go-sqlite3"
)

// wconn is the writer's connection: a go-sqlite3 connection opened from
// the driver itself, which the DB owns outright. It is in no database/sql
// pool, so nothing else ever resets, closes or locks it, and the writer
// runs its statements on it directly: they are the pipeline's serial
// stage, and database/sql's locking, argument conversion and result
// wrapping around each cost CPU and allocations on every statement of
// every send. Arguments are converted as database/sql converts them, and
// values scanned as it scans them (assign). A driver connection is not for
// concurrent use: everything on a wconn runs on the writer goroutine, or
// in Open and Close while no writer runs.
type wconn struct {
	c *sqlite3.SQLiteConn
	// stmts are the statements prepared so far, kept until close.
	stmts map[string]*wstmt
	// args are the arguments of the statement running, reused from
	// statement to statement.
	args []driver.NamedValue
}

// wstmt is a prepared statement of the writer's, and the number of
// arguments it takes.
type wstmt struct {
	s     *sqlite3.SQLiteStmt
	nargs int
}

// openWConn opens a connection to dsn as sql.Open's would, but the
// caller's own.
func openWConn(dsn string) (*wconn, error) {
	c, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	return &wconn{c: c.(*sqlite3.SQLiteConn), stmts: map[string]*wstmt{}}, nil
}

// close finalizes the statements and closes the connection.
func (w *wconn) close() error {
	for _, s := range w.stmts {
		s.s.Close()
	}
	clear(w.stmts)
	return w.c.Close()
}

// inTx reports whether the connection is inside a transaction.
func (w *wconn) inTx() bool { return !w.c.AutoCommit() }

// run runs q, one or more statements without arguments (BEGIN, COMMIT,
// a savepoint, the schema's), prepared for this once.
func (w *wconn) run(ctx context.Context, q string) error {
	_, err := w.c.ExecContext(ctx, q, nil)
	return err
}

// prepared returns q prepared, once for the connection's life.
func (w *wconn) prepared(q string) (*wstmt, error) {
	if s, ok := w.stmts[q]; ok {
		return s, nil
	}
	ds, err := w.c.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	s := &wstmt{s: ds.(*sqlite3.SQLiteStmt), nargs: ds.NumInput()}
	w.stmts[q] = s
	return s, nil
}

// bind converts args for s as database/sql does
// (driver.DefaultParameterConverter; the wrong number of them is an
// error, not NULLs). The caller hands the result back to release.
func (w *wconn) bind(s *wstmt, args []any) ([]driver.NamedValue, error) {
	if s.nargs != len(args) {
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", s.nargs, len(args))
	}
	named := w.args[:0]
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			clear(named)
			return nil, fmt.Errorf("sql: converting argument $%d type: %w", i+1, err)
		}
		named = append(named, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return named, nil
}

// release keeps named's space for the next statement, holding no data
// past the call: SQLite has bound, and copied, what it held.
func (w *wconn) release(named []driver.NamedValue) {
	clear(named)
	w.args = named
}

// exec runs q, which writes, with args; its sql.Result is the driver's.
func (w *wconn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := w.prepared(q)
	if err != nil {
		return nil, err
	}
	named, err := w.bind(s, args)
	if err != nil {
		return nil, err
	}
	r, err := s.s.ExecContext(ctx, named)
	w.release(named)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// query runs q with args; the rows must be closed before the connection
// runs q again.
func (w *wconn) query(ctx context.Context, q string, args ...any) (*wrows, error) {
	s, err := w.prepared(q)
	if err != nil {
		return nil, err
	}
	named, err := w.bind(s, args)
	if err != nil {
		return nil, err
	}
	r, err := s.s.QueryContext(ctx, named)
	w.release(named)
	if err != nil {
		return nil, err
	}
	return &wrows{r: r, vals: make([]driver.Value, len(r.Columns()))}, nil
}

// queryRow runs q with args for its first row, as sql.DB's QueryRow.
func (w *wconn) queryRow(ctx context.Context, q string, args ...any) wrow {
	r, err := w.query(ctx, q, args...)
	return wrow{rows: r, err: err}
}

// wrows are the rows of a query of the writer's, with sql.Rows' methods.
type wrows struct {
	r      driver.Rows
	vals   []driver.Value // the current row's
	err    error          // Next's, other than the end
	ready  bool           // Next found a row
	closed bool
}

func (r *wrows) Next() bool {
	r.ready = false
	if r.closed {
		return false
	}
	if err := r.r.Next(r.vals); err != nil {
		if err != io.EOF {
			r.err = err
		}
		r.Close()
		return false
	}
	r.ready = true
	return true
}

// Scan copies the current row's values into dest, as sql.Rows.Scan.
func (r *wrows) Scan(dest ...any) error {
	if r.closed {
		return errors.New("sql: Rows are closed")
	}
	if !r.ready {
		return errors.New("sql: Scan called without calling Next")
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("sql: expected %d destination arguments in Scan, not %d", len(r.vals), len(dest))
	}
	for i, v := range r.vals {
		if err := assign(dest[i], v); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d, name %q: %w", i, r.r.Columns()[i], err)
		}
	}
	return nil
}

func (r *wrows) Err() error { return r.err }

// Close resets the statement for its next run.
func (r *wrows) Close() error {
	if r.closed {
		return nil
	}
	r.closed, r.ready = true, false
	return r.r.Close()
}

// wrow is the first row of a query of the writer's, as sql.Row.
type wrow struct {
	rows *wrows
	err  error // the query's
}

// Scan copies the row's values into dest, as sql.Row.Scan:
// sql.ErrNoRows if there is none.
func (r wrow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}

// assign stores src, a value from go-sqlite3 (int64, float64, bool,
// []byte, string, time.Time or nil), in dest as sql.Rows.Scan would: the
// conversions are database/sql's own, through sql.Null's Scan, for the
// types the store scans into; types defined on an integer or a string
// (store.State) take a value of their kind.
func assign(dest any, src driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *[]byte:
		return assignAs(d, src, true)
	case *any:
		return assignAs(d, src, true)
	case *string:
		return assignAs(d, src, false)
	case *int64:
		return assignAs(d, src, false)
	case *int:
		return assignAs(d, src, false)
	case *bool:
		return assignAs(d, src, false)
	case *float64:
		return assignAs(d, src, false)
	}
	return assignKind(dest, src)
}

// assignAs stores src in dest through sql.Null[T]'s Scan, which converts
// as sql.Rows.Scan does; NULL only where nullable, as there.
func assignAs[T any](dest *T, src driver.Value, nullable bool) error {
	if src == nil && !nullable {
		return fmt.Errorf("converting NULL to %s is unsupported", reflect.TypeFor[T]().Kind())
	}
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	*dest = n.V
	return nil
}

// assignKind stores src in *dest, of a type defined on an integer or a
// string, converting it as for an int64 or a string.
func assignKind(dest any, src driver.Value) error {
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return errors.New("destination not a pointer")
	}
	e := dv.Elem()
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if err := assignAs(&i, src, false); err != nil {
			return err
		}
		if e.OverflowInt(i) {
			return fmt.Errorf("converting driver.Value type %T (%d) to a %s: value out of range", src, i, e.Kind())
		}
		e.SetInt(i)
		return nil
	case reflect.String:
		var s string
		if err := assignAs(&s, src, false); err != nil {
			return err
		}
		e.SetString(s)
		return nil
	}
	return fmt.Errorf("unsupported Scan, storing driver.Value type %T into type %T", src, dest)
}
