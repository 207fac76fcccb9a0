package server_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/ringd/ringd/internal/ringtest"
	"github.com/ringd/ringd/internal/server"
)

// TestLink: link data is set once; concurrent first attempts have one
// winner.
func TestLink(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	alice := s.User(t, "Alice")
	a, _ := want(t, s, 10000, map[string]any{"req": "linked", "uuid": alice.UUID}, nil)
	if _, ok := a["data"]; ok {
		t.Fatalf("linked with none set: %v", a)
	}
	want(t, s, 10002, map[string]any{"req": "link", "uuid": alice.UUID, "data": ""}, nil)
	want(t, s, 10002, map[string]any{"req": "link", "uuid": alice.UUID, "data": strings.Repeat("é", 1025)}, nil)
	want(t, s, 10002, map[string]any{"req": "link", "uuid": alice.UUID}, nil)
	want(t, s, 10004, map[string]any{"req": "link", "uuid": "nope", "data": "x"}, nil)
	want(t, s, 10004, map[string]any{"req": "linked", "uuid": "nope"}, nil)
	long := strings.Repeat("é", 1024) // characters, not bytes
	want(t, s, 10000, map[string]any{"req": "link", "uuid": alice.UUID, "data": long}, nil)
	want(t, s, 10005, map[string]any{"req": "link", "uuid": alice.UUID, "data": "other"}, nil)
	if a, _ := want(t, s, 10000, map[string]any{"req": "linked", "uuid": alice.UUID}, nil); a.Str("data") != long {
		t.Fatalf("linked: %v", a)
	}

	bob := s.Register(t)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, _, err := callPost(s, map[string]any{"req": "link", "uuid": bob.UUID, "data": strings.Repeat("x", i+1)}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = a.Code()
		}()
	}
	wg.Wait()
	if countCode(codes, 10000) != 1 || countCode(codes, 10005) != len(codes)-1 {
		t.Fatalf("concurrent first links: %v", codes)
	}
	winner := strings.Repeat("x", 1+indexOf(codes, 10000))
	if a, _ := want(t, s, 10000, map[string]any{"req": "linked", "uuid": bob.UUID}, nil); a.Str("data") != winner {
		t.Fatalf("linked %v, the winner set %q", a, winner)
	}
}

func indexOf(codes []int, c int) int {
	for i, x := range codes {
		if x == c {
			return i
		}
	}
	return -1
}

// TestOperatorNoToken: with no admin token configured, every operator
// request is 10061, whatever auth it carries.
func TestOperatorNoToken(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	for _, auth := range []any{"", "secret", nil} {
		for _, req := range []string{"reserve", "credit", "stats", "lookup", "counters"} {
			head := map[string]any{"req": req, "numbers": []string{"5555"}, "number": "5555", "seconds": 5}
			if auth != nil {
				head["auth"] = auth
			}
			want(t, s, 10061, head, nil)
		}
	}
	want(t, s, 10000, map[string]any{"req": "register", "number": "5555"}, nil)
}

// TestOperator: reserve, credit and stats with the admin token, and the
// numbers the configuration reserves.
func TestOperator(t *testing.T) {
	cfg := ringtest.NewConfig(t)
	cfg.AdminToken = "admin-secret"
	cfg.Reserved = []string{"repeated", "110*", "12345"}
	s := ringtest.New(t, cfg)
	const tok = "admin-secret"
	db := callDB(t, s)

	for _, n := range []string{"7777", "88888888", "110", "1109", "12345"} {
		want(t, s, 10003, map[string]any{"req": "register", "number": n}, nil)
	}
	want(t, s, 10000, map[string]any{"req": "register", "number": "1234"}, nil)
	want(t, s, 10000, map[string]any{"req": "register", "number": "1011"}, nil)

	want(t, s, 10061, map[string]any{"req": "reserve", "auth": "admin-secreT", "numbers": []string{"4321"}}, nil)
	want(t, s, 10061, map[string]any{"req": "reserve", "numbers": []string{"4321"}}, nil)
	want(t, s, 10061, map[string]any{"req": "stats", "auth": 5}, nil) // wrong type: still no entry
	want(t, s, 10002, map[string]any{"req": "reserve", "auth": tok}, nil)
	want(t, s, 10002, map[string]any{"req": "reserve", "auth": tok, "numbers": []string{}}, nil)
	want(t, s, 10002, map[string]any{"req": "reserve", "auth": tok, "numbers": []string{"4321", "12"}}, nil)
	if n := rows(t, db, `SELECT COUNT(*) FROM reserved`); n != 0 {
		t.Fatalf("refused reserve stored %d numbers", n)
	}
	// 1234 is registered: reserving it keeps it with its owner.
	owner := s.User(t, "Owner")
	want(t, s, 10000, map[string]any{"req": "reserve", "auth": tok, "numbers": []string{"4321", owner.Number, "4321"}}, nil)
	want(t, s, 10003, map[string]any{"req": "register", "number": "4321"}, nil)
	want(t, s, 10003, map[string]any{"req": "register", "number": owner.Number}, nil)
	if a := s.Send(t, owner, owner.Number, "still mine"); a.Code() != 10000 {
		t.Fatalf("the owner of a reserved number: %v", a)
	}

	want(t, s, 10002, map[string]any{"req": "credit", "auth": tok, "number": owner.Number}, nil)
	want(t, s, 10002, map[string]any{"req": "credit", "auth": tok, "number": owner.Number, "seconds": 0}, nil)
	want(t, s, 10002, map[string]any{"req": "credit", "auth": tok, "number": "x", "seconds": 5}, nil)
	want(t, s, 10011, map[string]any{"req": "credit", "auth": tok, "number": "999999", "seconds": 5}, nil)
	want(t, s, 10011, map[string]any{"req": "credit", "auth": tok, "number": "4321", "seconds": 5}, nil) // reserved, not registered
	a, _ := want(t, s, 10000, map[string]any{"req": "credit", "auth": tok, "number": owner.Number, "seconds": 600}, nil)
	if a["balance"] != float64(600) {
		t.Fatalf("credit: %v", a)
	}
	a, _ = want(t, s, 10000, map[string]any{"req": "credit", "auth": tok, "number": owner.Number, "seconds": 30}, nil)
	if a["balance"] != float64(630) {
		t.Fatalf("second credit: %v", a)
	}
	if a, _ := want(t, s, 10000, map[string]any{"req": "balance", "uuid": owner.UUID}, nil); a["balance"] != float64(630) {
		t.Fatalf("balance: %v", a)
	}

	alice := s.User(t, "Alice")
	call(t, s, alice, owner.Number, nil)
	a, _ = want(t, s, 10000, map[string]any{"req": "stats", "auth": tok}, nil)
	// Numbers: 1234, 1011, owner, alice; devices: owner's, alice's; one
	// text (10 bytes) and one call.
	for k, v := range map[string]float64{"numbers": 4, "in_use": 2, "devices": 2, "messages": 1, "calls": 1, "bytes": 10} {
		if a[k] != v {
			t.Fatalf("stats %s = %v, want %v: %v", k, a[k], v, a)
		}
	}
}

// TestDebug: 10020 with the version and the request echoed with -debug,
// an unknown request without.
func TestDebug(t *testing.T) {
	s := ringtest.New(t, ringtest.NewConfig(t))
	want(t, s, 10002, map[string]any{"req": "debug"}, nil)

	cfg := ringtest.NewConfig(t)
	cfg.Debug = true
	s = ringtest.New(t, cfg)
	a, _ := want(t, s, 10020, map[string]any{"req": "debug", "x": []int{1, 2}}, nil)
	req, _ := a["request"].(map[string]any)
	if a.Str("error") != "debug" || a.Str("version") != server.Version || req["req"] != "debug" || len(req["x"].([]any)) != 2 {
		t.Fatalf("debug: %v", a)
	}
}
