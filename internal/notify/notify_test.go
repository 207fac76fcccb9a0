package notify

import (
	"strings"
	"testing"
)

// A subscriber is woken by a Notify of any of its topics made after it
// subscribed, once however many came, and by nothing after its cancel.
func TestLocal(t *testing.T) {
	l := NewLocal()
	l.Notify(Messages("1001")) // before anyone subscribed: lost
	c, cancel := l.Subscribe(Messages("1001"), Call("c1"))
	other, cancelOther := l.Subscribe(Messages("1002"))
	defer cancelOther()
	select {
	case <-c:
		t.Fatal("woken by a Notify made before it subscribed")
	default:
	}
	l.Notify(Call("c1"))
	l.Notify(Messages("1001"))
	<-c
	select {
	case <-c:
		t.Fatal("two wake-ups pending; want them coalesced into one")
	case <-other:
		t.Fatal("woken by another topic")
	default:
	}
	if n := l.Subscribers(Messages("1001")); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	cancel()
	if n := l.Subscribers(Messages("1001")) + l.Subscribers(Call("c1")); n != 0 {
		t.Fatalf("%d subscribers left after cancel", n)
	}
	l.Notify(Messages("1001"))
	select {
	case <-c:
		t.Fatal("woken after cancel")
	default:
	}
	l.Notify(Messages("1002"))
	<-other
}

func TestValidMessage(t *testing.T) {
	for _, c := range []struct {
		kind, msg string
		ok        bool
	}{
		{"rate", "r 192.0.2.1 7", true},
		{"rate", "", true},
		{"a-Z9", strings.Repeat("~", MaxMessage), true},
		{"", "x", false},
		{"a kind", "x", false},
		{"rate!", "x", false},
		{strings.Repeat("k", 33), "x", false},
		{"rate", strings.Repeat("x", MaxMessage+1), false},
		{"rate", "two\nlines", false},
		{"rate", "nul\x00", false},
		{"rate", "é", false},
	} {
		if got := ValidMessage(c.kind, c.msg); got != c.ok {
			t.Errorf("ValidMessage(%q, %.20q) = %v, want %v", c.kind, c.msg, got, c.ok)
		}
	}
}
