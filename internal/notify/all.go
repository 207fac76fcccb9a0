package notify

// NotifyAll wakes every subscriber of every topic. A Notifier that carries
// wake-ups between processes calls it when it may have missed some (its
// connection was lost, or as a periodic re-check): a waiter woken for
// nothing looks again and waits again, so a spurious wake-up costs one
// read and a lost one costs at most the time until the next NotifyAll.
func (l *Local) NotifyAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range l.subs {
		for s := range set {
			select {
			case s.c <- struct{}{}:
			default:
			}
		}
	}
}
