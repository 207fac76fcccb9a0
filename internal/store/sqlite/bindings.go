package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/ringd/ringd/internal/store"
)

// The writer's copy of what Send looks up in numbers and devices: who a
// uuid is, and which device (token, appid) a number is bound to. A send
// then costs the writer its INSERT alone instead of two lookups first.
//
// The copy is exact because every write to those tables goes through the
// writer: the writer fills it from its own transaction, and empties it
// whenever a statement that may change numbers or devices runs (tx.stmt),
// when an operation that ran one is rolled back, and when a batch does not
// commit. So a send queued after a committed logout (or a login in the same
// batch) sees the logout, as it would by reading the tables. Only the writer
// goroutine touches it.
type bindings struct {
	senders map[store.UUIDHash]senderRow
	callees map[string]calleeRow
}

type senderRow struct {
	number, name string
	inUse        bool
	// numberArg and nameArg are number and name as statement arguments,
	// boxed once when the row is copied rather than at every send's
	// INSERT: each boxing of a string is an allocation.
	numberArg, nameArg any
}

type calleeRow struct {
	token, appid string // token "" if the number is unknown or idle
	login        int64  // the device's login count (store.Push.Login)
	numberArg    any    // the number as a statement argument, boxed once
}

// maxBindings bounds each map; past it the copy starts over.
const maxBindings = 1 << 16

// forget empties the copy.
func (b *bindings) forget() {
	clear(b.senders)
	clear(b.callees)
}

// changesBindings reports whether statement q may write numbers or devices.
func changesBindings(q string) bool {
	q = strings.TrimSpace(q)
	return !strings.HasPrefix(q, "SELECT") && (strings.Contains(q, "numbers") || strings.Contains(q, "devices"))
}

// sender returns the number of uuid hash h; sql.ErrNoRows if none.
func (tx *wtx) sender(h store.UUIDHash) (senderRow, error) {
	if s, ok := tx.db.bind.senders[h]; ok {
		return s, nil
	}
	return tx.lookupSender(h)
}

// lookupSender is sender's look in numbers; apart, so that h escapes (as
// an argument of the query) only when the copy lacks it.
func (tx *wtx) lookupSender(h store.UUIDHash) (senderRow, error) {
	b := &tx.db.bind
	var s senderRow
	var token sql.NullString
	err := tx.queryRow(`SELECT number, name, token FROM numbers WHERE uuid_hash = ?`, h[:]).Scan(&s.number, &s.name, &token)
	if err != nil {
		return s, err
	}
	s.inUse = token.Valid
	s.numberArg, s.nameArg = s.number, s.name
	if len(b.senders) >= maxBindings {
		clear(b.senders)
	}
	b.senders[h] = s
	return s, nil
}

// callee returns the device number is bound to; a zero token if none.
func (tx *wtx) callee(number string) (calleeRow, error) {
	b := &tx.db.bind
	if c, ok := b.callees[number]; ok {
		return c, nil
	}
	var tok, appid sql.NullString
	var login sql.NullInt64
	// The device's appid and login count come with the token in the same
	// lookup, so queueing the push costs Send only its INSERT.
	err := tx.queryRow(`SELECT n.token, d.appid, d.login FROM numbers n LEFT JOIN devices d ON d.token = n.token
		WHERE n.number = ?`, number).Scan(&tok, &appid, &login)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return calleeRow{}, err
	}
	c := calleeRow{token: tok.String, appid: appid.String, login: login.Int64, numberArg: number}
	if len(b.callees) >= maxBindings {
		clear(b.callees)
	}
	b.callees[number] = c
	return c, nil
}
