package server

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ringd/ringd/internal/wire"
)

// TestSendAnswerBytes: send's answer, appended by hand, is byte for byte
// what encoding/json makes of sendAnswer, over ids and times of every
// length and sign, and into a buffer that already holds something.
func TestSendAnswerBytes(t *testing.T) {
	values := []int64{0, 1, -1, 9, 10, 99, 100, 12345, 1764489600, -1764489600,
		math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for p := int64(1); p > 0 && p < math.MaxInt64/10; p *= 10 {
		values = append(values, p-1, p, p+1, -p)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		values = append(values, rng.Int64(), -rng.Int64(), rng.Int64N(1<<40))
	}
	for i, id := range values {
		tm := values[(i*7+3)%len(values)]
		want, err := json.Marshal(sendAnswer{Answer: wire.OK, MsgID: formatID(id), Time: tm})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendSendAnswer(nil, id, tm); !bytes.Equal(got, want) {
			t.Fatalf("id %d, time %d: %s, want %s", id, tm, got, want)
		}
		if got := appendSendAnswer([]byte("xyz"), id, tm); !bytes.Equal(got, append([]byte("xyz"), want...)) {
			t.Fatalf("id %d, time %d, appended to xyz: %s", id, tm, got)
		}
	}
}
