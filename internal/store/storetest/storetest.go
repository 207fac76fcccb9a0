// Package storetest is the behavioural test suite of ringd's storage
// interfaces: store.Store, the store.Calls it embeds, and the push outbox
// the push dispatcher drains. Every engine runs all of it from its own
// tests with one call:
//
//	func TestStoreContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			st := open(t.TempDir()) // a fresh, empty store
//			t.Cleanup(func() { st.Close() })
//			return st
//		})
//	}
//
// It tests the contract the interfaces' doc comments and docs/API.md write
// down, never an engine's internals: message ids are only unique and
// growing in the order sends commit, a message's data is read back only
// through the store, and every time is one the tests pass in.
//
// The construction of a send and the read of a message's data each live
// in one helper (fixture.send, fixture.data), as does expiry
// (fixture.expire): an interface change there is a change to those alone.
// What is engine-specific (an orphan left by a crash, freed after the
// engine's grace) is each engine's own test.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/internal/store"
)

// Run runs the whole suite against the engine open makes. open returns a
// fresh, empty store, closed by t's cleanup; every subtest opens its own.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, g := range groups {
		runGroup(t, g.name, g.cases, open)
	}
}

// groups are the suite's parts, in the order Run runs them.
var groups = []struct {
	name  string
	cases []testCase
}{
	{"Identities", identityCases},
	{"Messages", messageCases},
	{"Data", dataCases},
	{"Concurrency", concurrencyCases},
	{"Expiry", expiryCases},
	{"Calls", callCases},
	{"PushOutbox", outboxCases},
}

func runGroup(t *testing.T, name string, cases []testCase, open func(t *testing.T) store.Store) {
	t.Run(name, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.fn(t, newFixture(t, open))
			})
		}
	})
}

type testCase struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// t0 is the suite's epoch: every time a test passes the store is t0 plus
// whole seconds (or milliseconds, where the contract is in them).
var t0 = time.Unix(1_800_000_000, 0)

// at is t0 plus seconds.
func at(seconds float64) time.Time {
	return t0.Add(time.Duration(seconds * float64(time.Second)))
}

// fixture is one fresh store and the numbers a test made in it.
type fixture struct {
	t    *testing.T
	st   store.Store
	ctx  context.Context
	next int // numbers made so far
}

func newFixture(t *testing.T, open func(t *testing.T) store.Store) *fixture {
	return &fixture{t: t, st: open(t), ctx: t.Context()}
}

// party is a registered number and the secret it is known by.
type party struct {
	Number string
	UUID   store.UUIDHash
	Dev    store.Device // the device it logged in on; zero if none
}

// uuidOf is the hash of a uuid no number has, distinct for each name.
func uuidOf(name string) store.UUIDHash {
	return sha256.Sum256([]byte("storetest uuid " + name))
}

// register makes a new number, not in use.
func (f *fixture) register() party {
	f.t.Helper()
	f.next++
	p := party{Number: fmt.Sprintf("%d", 30000000+f.next)}
	p.UUID = uuidOf(p.Number)
	if err := f.st.Register(f.ctx, p.Number, p.UUID, t0); err != nil {
		f.t.Fatalf("register %s: %v", p.Number, err)
	}
	return p
}

// device is a device of the given token and name, with the appid
// "com.example.chat".
func device(token, name string) store.Device {
	return store.Device{Token: token, AppID: "com.example.chat", Build: "1.0", Name: name, Locale: "en_US"}
}

// online makes a new number in use on a device of its own, logged in at
// t0 under name.
func (f *fixture) online(name string) party {
	f.t.Helper()
	p := f.register()
	p.Dev = device("token-of-"+p.Number, name)
	f.login(p.Dev, t0, p)
	return p
}

// login logs dev in with the numbers of ps, and checks the numbers it
// answers.
func (f *fixture) login(dev store.Device, when time.Time, ps ...party) {
	f.t.Helper()
	uuids := make([]store.UUIDHash, len(ps))
	want := make([]string, len(ps))
	for i, p := range ps {
		uuids[i], want[i] = p.UUID, p.Number
	}
	got, err := f.st.Login(f.ctx, dev, uuids, when)
	if err != nil || !slices.Equal(got, want) {
		f.t.Fatalf("login %s with %v: %v %v", dev.Token, want, got, err)
	}
}

// number looks n up, failing the test on an error.
func (f *fixture) number(n string) store.Number {
	f.t.Helper()
	num, err := f.st.Number(f.ctx, n)
	if err != nil {
		f.t.Fatalf("Number(%s): %v", n, err)
	}
	return num
}

// stats returns the store's counts.
func (f *fixture) stats() store.Stats {
	f.t.Helper()
	s, err := f.st.Stats(f.ctx)
	if err != nil {
		f.t.Fatalf("Stats: %v", err)
	}
	return s
}

// sending is one send (or sends) as a test asks for it.
type sending struct {
	From  store.UUIDHash
	To    []string
	Data  string
	Fname string // "" for a text
	CID   string // "" for none
	Name  string // the caller name given; "" for the stored one
	At    time.Time
}

// send stores s.
func (f *fixture) send(s sending) (store.SendResult, error) {
	f.t.Helper()
	return f.st.Send(f.ctx, sendingMessages(s))
}

// sendingMessages is what the store is given for s: the suite's only
// construction of a store send.
func sendingMessages(s sending) store.NewMessages {
	return store.NewMessages{
		SenderHash: s.From,
		CallerName: s.Name,
		Callees:    s.To,
		Fname:      s.Fname,
		CID:        s.CID,
		Now:        s.At,
		Data:       strings.NewReader(s.Data),
		Length:     int64(len(s.Data)),
	}
}

// mustSend is send that fails the test on an error.
func (f *fixture) mustSend(s sending) store.SendResult {
	f.t.Helper()
	res, err := f.send(s)
	if err != nil {
		f.t.Fatalf("send %q to %v: %v", s.Data, s.To, err)
	}
	return res
}

// sendText sends text from p to one callee at when and returns its id.
func (f *fixture) sendText(p party, to string, text string, when time.Time) int64 {
	f.t.Helper()
	res := f.mustSend(sending{From: p.UUID, To: []string{to}, Data: text, At: when})
	id, ok := res.MsgIDs[to]
	if !ok || len(res.MsgIDs) != 1 || len(res.Failed) != 0 {
		f.t.Fatalf("send to %s: %+v", to, res)
	}
	return id
}

// data returns the data of message m as a reader of it gets it, checking
// that a text of at most TextMax bytes comes with its message. It is the
// suite's only read of message data.
func (f *fixture) data(m store.Message) string {
	f.t.Helper()
	d, err := f.dataAt(m, 0, m.Length)
	if err != nil {
		f.t.Fatalf("data of message %d (uri %s): %v", m.ID, m.URI, err)
	}
	if text := m.Fname == "" && m.Length <= store.TextMax; text != (m.Text != nil) || text && *m.Text != d {
		f.t.Fatalf("message %d: text %v with data %q", m.ID, m.Text, d)
	}
	return d
}

// dataAt reads n bytes of m's data from offset through OpenData.
func (f *fixture) dataAt(m store.Message, offset, n int64) (string, error) {
	rc, err := f.st.OpenData(f.ctx, m, offset, n)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil && int64(len(b)) != n {
		err = fmt.Errorf("read %d bytes, want %d", len(b), n)
	}
	return string(b), err
}

// expire deletes what is older than before, messages and the data only
// they referred to: the suite's only expiry of messages.
func (f *fixture) expire(before time.Time) {
	f.t.Helper()
	if err := f.st.Expire(f.ctx, before); err != nil {
		f.t.Fatalf("Expire: %v", err)
	}
}

// take takes up to limit undelivered messages of callees newer than after.
func (f *fixture) take(after int64, limit int, callees ...string) ([]store.Message, bool) {
	f.t.Helper()
	msgs, more, err := f.st.TakeUndelivered(f.ctx, store.GetQuery{Callees: callees, After: after, Limit: limit}, nil)
	if err != nil {
		f.t.Fatalf("TakeUndelivered(%v): %v", callees, err)
	}
	return msgs, more
}

// message returns a live message, failing the test if there is none.
func (f *fixture) message(id int64) store.Message {
	f.t.Helper()
	m, err := f.st.Message(f.ctx, id)
	if err != nil {
		f.t.Fatalf("Message(%d): %v", id, err)
	}
	return m
}

// states returns the states of ids as their caller sees them.
func (f *fixture) states(caller string, ids ...int64) []store.State {
	f.t.Helper()
	s, err := f.st.States(f.ctx, caller, ids)
	if err != nil {
		f.t.Fatalf("States(%s, %v): %v", caller, ids, err)
	}
	return s
}

// idsOf returns the ids of msgs, in order.
func idsOf(msgs []store.Message) []int64 {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

// unknownID is a message id no test's store has reached.
const unknownID = int64(1) << 50

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
