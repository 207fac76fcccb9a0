package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/ringd/ringd/internal/store"
)

var identityCases = []testCase{
	{"Register", testRegister},
	{"Reserve", testReserve},
	{"NumbersByUUID", testNumbersByUUID},
	{"Number", testNumber},
	{"LoginMovesNumbers", testLoginMovesNumbers},
	{"Logout", testLogout},
	{"LoginUnknownUUIDChangesNothing", testLoginUnknownUUID},
}

// A registered number is known by its uuid and not in use; a second
// register of it is ErrTaken and leaves it with its owner.
func testRegister(t *testing.T, f *fixture) {
	a := f.register()
	n := f.number(a.Number)
	if n.Number != a.Number || n.InUse() || n.Token != "" || n.Device != nil {
		t.Fatalf("new number: %+v", n)
	}
	other := uuidOf("someone else")
	if err := f.st.Register(f.ctx, a.Number, other, t0); !errors.Is(err, store.ErrTaken) {
		t.Fatalf("register of a taken number: %v, want ErrTaken", err)
	}
	if _, err := f.st.NumbersByUUID(f.ctx, []store.UUIDHash{other}); !errors.Is(err, store.ErrUnknownUUID) {
		t.Fatalf("the refused register's uuid: %v, want ErrUnknownUUID", err)
	}
	got, err := f.st.NumbersByUUID(f.ctx, []store.UUIDHash{a.UUID})
	if err != nil || len(got) != 1 || got[0].Number != a.Number {
		t.Fatalf("owner after a refused register: %+v %v", got, err)
	}
	if s := f.stats(); s.Numbers != 1 || s.InUse != 0 {
		t.Fatalf("stats %+v, want one number not in use", s)
	}
}

// A reserved number cannot be registered; one registered before stays
// with its owner; reserving again is no error.
func testReserve(t *testing.T, f *fixture) {
	a := f.register()
	if err := f.st.Reserve(f.ctx, []string{"110", a.Number}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Reserve(f.ctx, []string{"110"}); err != nil {
		t.Fatalf("reserving a reserved number: %v", err)
	}
	if err := f.st.Register(f.ctx, "110", uuidOf("x"), t0); !errors.Is(err, store.ErrReserved) {
		t.Fatalf("register of a reserved number: %v, want ErrReserved", err)
	}
	if _, err := f.st.Number(f.ctx, "110"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reserved number after a refused register: %v, want ErrNotFound", err)
	}
	got, err := f.st.NumbersByUUID(f.ctx, []store.UUIDHash{a.UUID})
	if err != nil || got[0].Number != a.Number {
		t.Fatalf("a reserved number's owner: %+v %v", got, err)
	}
	if err := f.st.Register(f.ctx, a.Number, uuidOf("y"), t0); err == nil {
		t.Fatal("registered a taken, then reserved, number again")
	}
}

// NumbersByUUID answers in the order asked, with names and bindings; any
// unknown uuid is ErrUnknownUUID.
func testNumbersByUUID(t *testing.T, f *fixture) {
	a, b, c := f.online("Alice"), f.register(), f.online("Carol")
	got, err := f.st.NumbersByUUID(f.ctx, []store.UUIDHash{c.UUID, a.UUID, b.UUID})
	if err != nil || len(got) != 3 {
		t.Fatalf("NumbersByUUID: %+v %v", got, err)
	}
	want := []struct {
		number, name, token string
	}{{c.Number, "Carol", c.Dev.Token}, {a.Number, "Alice", a.Dev.Token}, {b.Number, "", ""}}
	for i, w := range want {
		if got[i].Number != w.number || got[i].Name != w.name || got[i].Token != w.token {
			t.Fatalf("NumbersByUUID[%d] = %+v, want %+v", i, got[i], w)
		}
	}
	if _, err := f.st.NumbersByUUID(f.ctx, []store.UUIDHash{a.UUID, uuidOf("nobody"), b.UUID}); !errors.Is(err, store.ErrUnknownUUID) {
		t.Fatalf("with an unknown uuid: %v, want ErrUnknownUUID", err)
	}
}

// Number finds a number by its digits, with its device while in use.
func testNumber(t *testing.T, f *fixture) {
	if _, err := f.st.Number(f.ctx, "12345678"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unregistered number: %v, want ErrNotFound", err)
	}
	a := f.online("Alice")
	n := f.number(a.Number)
	if !n.InUse() || n.Token != a.Dev.Token || n.Name != "Alice" || n.Device == nil || *n.Device != a.Dev {
		t.Fatalf("number in use: %+v (device %+v), want device %+v", n, n.Device, a.Dev)
	}
}

// boundTo returns the token each number is bound to ("" for none).
func (f *fixture) boundTo(ps ...party) []string {
	f.t.Helper()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = f.number(p.Number).Token
	}
	return out
}

// A login binds its numbers in order, moves them off other devices, first
// unbinds whatever its token held, and names every number it binds.
func testLoginMovesNumbers(t *testing.T, f *fixture) {
	a, b, c := f.register(), f.register(), f.register()
	devA, devB := device("token-A-0001", "Anna"), device("token-B-0001", "Bert")
	f.login(devA, t0, b, a) // answers in the order of its uuids
	if got := f.boundTo(a, b, c); !slices.Equal(got, []string{devA.Token, devA.Token, ""}) {
		t.Fatalf("after A's login: %q", got)
	}
	f.login(devB, at(1), b)
	if got := f.boundTo(a, b, c); !slices.Equal(got, []string{devA.Token, devB.Token, ""}) {
		t.Fatalf("after B took b: %q", got)
	}
	if na, nb := f.number(a.Number), f.number(b.Number); na.Name != "Anna" || nb.Name != "Bert" {
		t.Fatalf("names %q %q, want Anna Bert", na.Name, nb.Name)
	}
	devA.Name, devA.Build, devA.Locale = "Annie", "2.0", "de_DE"
	f.login(devA, at(2), c) // unbinds a: a login binds exactly its uuids
	if got := f.boundTo(a, b, c); !slices.Equal(got, []string{"", devB.Token, devA.Token}) {
		t.Fatalf("after A logged in with c alone: %q", got)
	}
	if nc := f.number(c.Number); nc.Name != "Annie" || nc.Device == nil || *nc.Device != devA {
		t.Fatalf("c after A's second login: %+v %+v, want device %+v", nc, nc.Device, devA)
	}
	if s := f.stats(); s.Numbers != 3 || s.InUse != 2 || s.Devices != 2 {
		t.Fatalf("stats %+v, want 3 numbers, 2 in use, 2 devices", s)
	}
}

// A login with no uuids unbinds the token's numbers and forgets the
// device.
func testLogout(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	f.login(a.Dev, at(1))
	if na := f.number(a.Number); na.InUse() || na.Device != nil {
		t.Fatalf("after logout: %+v", na)
	}
	if nb := f.number(b.Number); nb.Token != b.Dev.Token {
		t.Fatalf("another device's number after a logout: %+v", nb)
	}
	if s := f.stats(); s.InUse != 1 || s.Devices != 1 {
		t.Fatalf("stats after logout %+v, want 1 in use, 1 device", s)
	}
	f.login(a.Dev, at(2)) // a logout of nothing is no error
}

// A login naming an unknown uuid is ErrUnknownUUID and changes nothing:
// not the bindings, not the names, not the device.
func testLoginUnknownUUID(t *testing.T, f *fixture) {
	a, b := f.online("Alice"), f.online("Bob")
	before := f.stats()
	changed := a.Dev
	changed.Name, changed.Build = "Mallory", "9.9"
	for _, dev := range []store.Device{changed, b.Dev, device("token-new-0001", "Newt")} {
		_, err := f.st.Login(f.ctx, dev, []store.UUIDHash{b.UUID, uuidOf("nobody")}, at(1))
		if !errors.Is(err, store.ErrUnknownUUID) {
			t.Fatalf("login of %s with an unknown uuid: %v, want ErrUnknownUUID", dev.Token, err)
		}
	}
	for _, p := range []party{a, b} {
		n := f.number(p.Number)
		if n.Token != p.Dev.Token || n.Name != p.Dev.Name || n.Device == nil || *n.Device != p.Dev {
			t.Fatalf("%s after refused logins: %+v %+v, want %+v", p.Number, n, n.Device, p.Dev)
		}
	}
	if s := f.stats(); s != before {
		t.Fatalf("stats after refused logins %+v, want %+v", s, before)
	}
}
