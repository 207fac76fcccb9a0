package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// load is one operation made ready against ringd: the numbers it needs are
// registered and logged in, and every request body is built beforehand, so
// the client spends its time sending, not encoding.
type load struct {
	desc string
	// gen returns the body of the round's request i, made by worker w. It
	// may reuse worker w's buffer: a worker has one request out at a time.
	gen func(w, i int) []byte
	// round, when set, makes the next max requests possible against ringd
	// (untimed: e.g. stores the messages the gets will return) and returns
	// how many it prepared. Loads without it can run any number.
	round func(ctx context.Context, max int) (int, error)
	// done tells the load that the last round's first n requests were made,
	// so it can clean up what the others left.
	done func(n int)
	// modulo is how many distinct bodies gen has when run without rounds
	// (against the ceiling); 0 means any i.
	modulo int
}

// user is a number ringbench registered, with its secret.
type user struct{ Number, UUID string }

// api is a small client for setting a load up; the load itself goes
// through run's tuned transport.
type api struct {
	hc  *http.Client
	url string
}

// call posts head (and data after a NUL when not nil) and decodes the JSON
// answer; any answer but 10000 is an error.
func (a *api) call(ctx context.Context, head map[string]any, data []byte) (map[string]any, error) {
	body, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	if data != nil {
		body = append(append(body, 0), data...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	var ans map[string]any
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, fmt.Errorf("%s: answer %.100q: %v", head["req"], raw, err)
	}
	if code, _ := ans["answer"].(float64); code != 10000 {
		return nil, fmt.Errorf("%s: answer %v", head["req"], ans)
	}
	return ans, nil
}

// parallel runs fn(i) for i in [0, n) on up to k goroutines and returns the
// first error.
func parallel(ctx context.Context, n, k int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(n, k) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// register registers n fresh numbers.
func (a *api) register(ctx context.Context, n int) ([]user, error) {
	users := make([]user, n)
	err := parallel(ctx, n, 8, func(ctx context.Context, i int) error {
		ans, err := a.call(ctx, map[string]any{"req": "register"}, nil)
		if err != nil {
			return err
		}
		users[i] = user{Number: ans["number"].(string), UUID: ans["uuid"].(string)}
		return nil
	})
	return users, err
}

// login binds users to one device of their own, which puts them in use.
func (a *api) login(ctx context.Context, users []user) error {
	uuids := make([]string, len(users))
	for i, u := range users {
		uuids[i] = u.UUID
	}
	_, err := a.call(ctx, map[string]any{"req": "login", "appid": "ringbench", "build": "1.0",
		"name": "bench", "locale": "en", "token": "ringbench-" + nonceHex(), "uuid": uuids}, nil)
	return err
}

// inUse registers n numbers and logs them in.
func (a *api) inUse(ctx context.Context, n int) ([]user, error) {
	users, err := a.register(ctx, n)
	if err == nil {
		err = a.login(ctx, users)
	}
	return users, err
}

func nonceHex() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// body builds a request: head as JSON, then a NUL and data when not nil.
// It also returns where the data starts.
func body(head map[string]any, data []byte) ([]byte, int) {
	b, err := json.Marshal(head)
	if err != nil {
		panic(err)
	}
	if data == nil {
		return b, len(b)
	}
	off := len(b) + 1
	return append(append(b, 0), data...), off
}

// stamper makes every sent data distinct, as real messages are, so that
// content addressing does not turn the load into re-stores of one blob: it
// writes a fresh 16-digit hex serial over the data's first bytes.
type stamper struct {
	base uint64
	seq  atomic.Uint64
}

func newStamper() *stamper {
	var b [8]byte
	crand.Read(b[:])
	return &stamper{base: binary.LittleEndian.Uint64(b[:])}
}

func (s *stamper) stamp(data []byte) {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], s.base+s.seq.Add(1))
	var h [16]byte
	hex.Encode(h[:], v[:])
	copy(data, h[:])
}

// textData is n bytes of ASCII text.
func textData(n int) []byte { return bytes.Repeat([]byte("ringbench "), n/10+1)[:n] }

// fileData is n random bytes.
func fileData(n int) []byte {
	b := make([]byte, n)
	crand.Read(b)
	return b
}

// setup registers what c.op needs on ringd at url and builds its bodies.
func setup(ctx context.Context, c *config, url string, logf func(string, ...any)) (*load, error) {
	a := &api{hc: &http.Client{}, url: url}
	defer a.hc.CloseIdleConnections()
	if c.prefill > 0 {
		if err := prefill(ctx, a, c.prefill, logf); err != nil {
			return nil, fmt.Errorf("prefill: %w", err)
		}
	}
	switch c.op {
	case "send", "file":
		logf("registering %d senders and %d callees", c.conns, c.conns)
		senders, err := a.inUse(ctx, c.conns)
		if err != nil {
			return nil, err
		}
		callees, err := a.inUse(ctx, c.conns)
		if err != nil {
			return nil, err
		}
		bufs := make([][]byte, c.conns)
		off := 0
		for w := range bufs {
			head := map[string]any{"req": "send", "uuid": senders[w].UUID, "callee": callees[w].Number, "length": c.size}
			data := textData(c.size)
			if c.op == "file" {
				head["fname"] = "bench.bin"
				data = fileData(c.size)
			}
			bufs[w], off = body(head, data)
		}
		st := newStamper()
		kind := "text"
		if c.op == "file" {
			kind = "file"
		}
		return &load{
			desc: fmt.Sprintf("send of a %s of %d bytes", kind, c.size),
			gen: func(w, _ int) []byte {
				st.stamp(bufs[w][off:])
				return bufs[w]
			},
		}, nil

	case "sends":
		logf("registering %d senders and %d callees", c.conns, c.callees)
		senders, err := a.inUse(ctx, c.conns)
		if err != nil {
			return nil, err
		}
		callees, err := a.inUse(ctx, c.callees)
		if err != nil {
			return nil, err
		}
		numbers := make([]string, len(callees))
		for i, u := range callees {
			numbers[i] = u.Number
		}
		bufs := make([][]byte, c.conns)
		off := 0
		for w := range bufs {
			bufs[w], off = body(map[string]any{"req": "sends", "uuid": senders[w].UUID, "callees": numbers, "length": c.size}, textData(c.size))
		}
		st := newStamper()
		return &load{
			desc: fmt.Sprintf("sends of a text of %d bytes to %d callees", c.size, c.callees),
			gen: func(w, _ int) []byte {
				st.stamp(bufs[w][off:])
				return bufs[w]
			},
		}, nil

	case "get":
		if c.m == 0 {
			logf("registering %d receivers", c.conns)
			recv, err := a.inUse(ctx, c.conns)
			if err != nil {
				return nil, err
			}
			bodies := make([][]byte, c.conns)
			desc := "get that finds nothing"
			for w, u := range recv {
				head := map[string]any{"req": "get", "uuid": []string{u.UUID}}
				if c.wait > 0 {
					head["wait"] = c.wait
					desc = fmt.Sprintf("get that waits %ds and finds nothing", c.wait)
				}
				bodies[w], _ = body(head, nil)
			}
			return &load{desc: desc, gen: func(w, _ int) []byte { return bodies[w] }}, nil
		}
		return setupGetM(ctx, c, a, logf)

	case "fetch":
		logf("registering a sender and a receiver")
		us, err := a.inUse(ctx, 2)
		if err != nil {
			return nil, err
		}
		ans, err := a.call(ctx, map[string]any{"req": "send", "uuid": us[0].UUID, "callee": us[1].Number,
			"length": c.size, "fname": "bench.bin"}, fileData(c.size))
		if err != nil {
			return nil, err
		}
		b, _ := body(map[string]any{"req": "fetch", "uuid": us[1].UUID, "msgid": ans["msgid"]}, nil)
		return &load{desc: fmt.Sprintf("fetch of a file of %d bytes", c.size), gen: func(int, int) []byte { return b }}, nil

	case "login":
		logf("registering %d numbers", c.conns)
		us, err := a.register(ctx, c.conns)
		if err != nil {
			return nil, err
		}
		nonce := nonceHex()
		bodies := make([][]byte, c.conns)
		for w, u := range us {
			bodies[w], _ = body(map[string]any{"req": "login", "appid": "ringbench", "build": "1.0", "name": "bench",
				"locale": "en", "token": fmt.Sprintf("ringbench-%s-%d", nonce, w), "uuid": []string{u.UUID}}, nil)
		}
		return &load{desc: "login of one number", gen: func(w, _ int) []byte { return bodies[w] }}, nil
	}
	return nil, fmt.Errorf("unknown -op %q", c.op)
}

// setupGetM prepares gets that each return M texts. A get takes every
// undelivered message of its number, so each get needs a number of its
// own holding M messages: rounds of gets over R receivers, each round
// preceded (untimed) by M sends to all of them — one sends stores a
// message for each of up to max-callees receivers, so refilling is cheap.
func setupGetM(ctx context.Context, c *config, a *api, logf func(string, ...any)) (*load, error) {
	const maxCallees = 1000 // ringd's default max-callees
	r := 1000
	if c.m*r > 100_000 { // keep a refill near 100k messages
		r = max(4*c.conns, 100_000/c.m)
	}
	logf("registering a sender and %d receivers", r)
	sender, err := a.inUse(ctx, 1)
	if err != nil {
		return nil, err
	}
	recv, err := a.inUse(ctx, r)
	if err != nil {
		return nil, err
	}
	bodies := make([][]byte, r)
	for i, u := range recv {
		bodies[i], _ = body(map[string]any{"req": "get", "uuid": []string{u.UUID}}, nil)
	}
	text := textData(c.size)
	// drain takes whatever the receivers in [lo, hi) still hold.
	drain := func(ctx context.Context, lo, hi int) error {
		return parallel(ctx, hi-lo, 4, func(ctx context.Context, i int) error {
			for {
				ans, err := a.call(ctx, map[string]any{"req": "get", "uuid": []string{recv[lo+i].UUID}}, nil)
				if err != nil {
					return err
				}
				if more, _ := ans["more"].(bool); !more {
					return nil
				}
			}
		})
	}
	prepared := 0
	return &load{
		desc:   fmt.Sprintf("get returning %d texts of %d bytes", c.m, c.size),
		gen:    func(_, i int) []byte { return bodies[i] },
		modulo: r,
		round: func(ctx context.Context, n int) (int, error) {
			n = min(n, r)
			chunks := (n + maxCallees - 1) / maxCallees
			err := parallel(ctx, c.m*chunks, 4, func(ctx context.Context, j int) error {
				lo := (j % chunks) * maxCallees
				hi := min(lo+maxCallees, n)
				numbers := make([]string, 0, hi-lo)
				for _, u := range recv[lo:hi] {
					numbers = append(numbers, u.Number)
				}
				_, err := a.call(ctx, map[string]any{"req": "sends", "uuid": sender[0].UUID, "callees": numbers, "length": len(text)}, text)
				return err
			})
			prepared = n
			return n, err
		},
		done: func(n int) {
			// A run that ended inside a round leaves messages behind; the
			// next round must find exactly M.
			if n < prepared {
				if err := drain(context.Background(), n, prepared); err != nil {
					logf("draining: %v", err)
				}
			}
			prepared = 0
		},
	}, nil
}

// prefill stores n messages of history (rounded up to a thousand): sends
// of a 100-byte text from one sender to 1000 numbers, which then take
// them, so the database holds n delivered messages and a sender with n
// sent when the load starts.
func prefill(ctx context.Context, a *api, n int, logf func(string, ...any)) error {
	const fanout = 1000
	logf("prefill: registering a sender and %d callees", fanout)
	sender, err := a.inUse(ctx, 1)
	if err != nil {
		return err
	}
	callees, err := a.inUse(ctx, fanout)
	if err != nil {
		return err
	}
	numbers := make([]string, fanout)
	for i, u := range callees {
		numbers[i] = u.Number
	}
	text := textData(100)
	rounds := (n + fanout - 1) / fanout
	logf("prefill: %d sends to %d callees", rounds, fanout)
	var done atomic.Int64
	err = parallel(ctx, rounds, 4, func(ctx context.Context, i int) error {
		_, err := a.call(ctx, map[string]any{"req": "sends", "uuid": sender[0].UUID, "callees": numbers, "length": len(text)}, text)
		if d := done.Add(1); d%100 == 0 {
			logf("prefill: %d messages stored", d*fanout)
		}
		return err
	})
	if err != nil {
		return err
	}
	logf("prefill: delivering them")
	return parallel(ctx, fanout, 4, func(ctx context.Context, i int) error {
		for {
			ans, err := a.call(ctx, map[string]any{"req": "get", "uuid": []string{callees[i].UUID}}, nil)
			if err != nil {
				return err
			}
			if more, _ := ans["more"].(bool); !more {
				return nil
			}
		}
	})
}
