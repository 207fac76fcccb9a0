package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"math/big"

	"github.com/ringd/ringd/internal/store"
	"github.com/ringd/ringd/internal/wire"
)

// newUUID makes a random version-4 UUID in canonical text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// hashUUID checks that s is a UUID in canonical text form and returns the
// hash under which its number is stored. A malformed uuid is 10004.
func hashUUID(s string) (store.UUIDHash, error) {
	if len(s) != 36 {
		return store.UUIDHash{}, wire.Errorf(wire.UUIDError, "malformed uuid")
	}
	var canon [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return store.UUIDHash{}, wire.Errorf(wire.UUIDError, "malformed uuid")
			}
		default:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				c += 'a' - 'A'
			default:
				return store.UUIDHash{}, wire.Errorf(wire.UUIDError, "malformed uuid")
			}
		}
		canon[i] = c
	}
	return sha256.Sum256(canon[:]), nil
}

// hashUUIDs hashes a list of uuids (10004 if any is malformed).
func hashUUIDs(list []string) ([]store.UUIDHash, error) {
	out := make([]store.UUIDHash, len(list))
	for i, u := range list {
		h, err := hashUUID(u)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// secretEqual compares a presented secret with the configured one in time
// that does not depend on where they differ. An empty configured secret
// matches nothing.
func secretEqual(given, want string) bool {
	if want == "" {
		return false
	}
	g := sha256.Sum256([]byte(given))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

type registerHead struct {
	Number *string `json:"number"`
	Auth   *string `json:"auth"`
}

type registerAnswer struct {
	Answer wire.Code `json:"answer"`
	Number string    `json:"number"`
	UUID   string    `json:"uuid"`
}

// register allocates a number: the one asked for, or a random free one.
func (s *Server) register(ctx context.Context, r *wire.Request) (any, error) {
	var h registerHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	if h.Number != nil && !wire.IsNumber(*h.Number) {
		return nil, wire.Errorf(wire.FormatError, "number is not 3-15 digits")
	}
	if s.cfg.RegisterKey != "" {
		if h.Auth == nil || !secretEqual(*h.Auth, s.cfg.RegisterKey) {
			return nil, wire.Errorf(wire.AuthError, "wrong registration key")
		}
	}
	uuid := newUUID()
	hash, _ := hashUUID(uuid)
	if h.Number != nil && s.reservedByConfig(*h.Number) {
		return nil, store.ErrReserved
	}
	if h.Number != nil {
		if err := s.ids.Register(ctx, *h.Number, hash, s.clock.Now()); err != nil {
			return nil, err
		}
		return registerAnswer{Answer: wire.OK, Number: *h.Number, UUID: uuid}, nil
	}
	// A random number: with 9·10^7 eight-digit numbers a collision is rare
	// until the space fills; a few tries find a free one.
	for try := 0; try < 32; try++ {
		n := s.randomNumber()
		if s.reservedByConfig(n) {
			continue
		}
		err := s.ids.Register(ctx, n, hash, s.clock.Now())
		if errors.Is(err, store.ErrTaken) || errors.Is(err, store.ErrReserved) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return registerAnswer{Answer: wire.OK, Number: n, UUID: uuid}, nil
	}
	return nil, wire.Errorf(wire.NumberNotAvailable, "no free number found")
}

// randomNumber is NumberDigits digits with no leading zero.
func (s *Server) randomNumber() string {
	d := s.cfg.NumberDigits
	lo := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d-1)), nil)
	span := new(big.Int).Mul(lo, big.NewInt(9))
	n, _ := rand.Int(rand.Reader, span)
	return n.Add(n, lo).String()
}

type loginHead struct {
	AppID  *string       `json:"appid"`
	Build  *string       `json:"build"`
	Name   *string       `json:"name"`
	Locale *string       `json:"locale"`
	Token  *string       `json:"token"`
	UUID   *wire.Strings `json:"uuid"`
}

type loginAnswer struct {
	Answer  wire.Code `json:"answer"`
	Numbers []string  `json:"numbers"`
}

// login binds the numbers of uuid to the device's token (seed).
func (s *Server) login(ctx context.Context, r *wire.Request) (any, error) {
	var h loginHead
	if err := r.Decode(&h); err != nil {
		return nil, err
	}
	if err := r.NoData(); err != nil {
		return nil, err
	}
	switch {
	case h.AppID == nil || !wire.Text(*h.AppID, 2, 32):
		return nil, wire.Errorf(wire.FormatError, "appid")
	case h.Build == nil || !wire.Text(*h.Build, 2, 16):
		return nil, wire.Errorf(wire.FormatError, "build")
	case h.Name == nil || !wire.Text(*h.Name, 2, 32):
		return nil, wire.Errorf(wire.FormatError, "name")
	case h.Locale == nil || !wire.Text(*h.Locale, 2, 6):
		return nil, wire.Errorf(wire.FormatError, "locale")
	case h.Token == nil || !wire.Text(*h.Token, 8, 228):
		return nil, wire.Errorf(wire.FormatError, "token")
	case h.UUID == nil:
		return nil, wire.Errorf(wire.FormatError, "uuid")
	}
	hashes, err := hashUUIDs(*h.UUID)
	if err != nil {
		return nil, err
	}
	dev := store.Device{Token: *h.Token, AppID: *h.AppID, Build: *h.Build, Name: *h.Name, Locale: *h.Locale}
	numbers, err := s.ids.Login(ctx, dev, hashes, s.clock.Now())
	if err != nil {
		return nil, err
	}
	return loginAnswer{Answer: wire.OK, Numbers: numbers}, nil
}
