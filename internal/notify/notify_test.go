package notify

import "testing"

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
