package main

// Timer slack: how late Linux may end a thread's timed sleep so as to wake
// several threads at once. The Go runtime's sysmon naps in short timed
// sleeps while any goroutine is in a system call or a cgo call, as ringd's
// writer and syncer always are under load, and each nap's wake-up is a
// thread switch, on a virtual machine an exit to the hypervisor. A slack
// of 1 ms lets the naps run longer and their wake-ups coincide
// (docs/PERFORMANCE.md, "The timer slack").
//
// Invariant: the slack only delays a timed wake-up that nothing else ends
// first, and by at most the slack (at most 1s); nothing in ringd measures
// time that finely.
//
// It is set in a C constructor, which runs before the Go runtime starts
// sysmon, because every thread inherits the slack of the thread that
// creates it. So it comes from the environment only, not from a flag or
// the config file: RINGD_TIMER_SLACK, a duration ("1ms", "250us",
// "50000ns"; a bare number is nanoseconds), at most 1s; 0 leaves the slack
// ringd was started with (systemd's TimerSlackNSec=, say). main refuses to
// start on a value it cannot read.

/*
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

// ringd_timer_slack_ns is the slack the constructor set, 0 if it left the
// inherited one, -1 if RINGD_TIMER_SLACK could not be read, -2 if prctl
// refused it.
long long ringd_timer_slack_ns;

static long long ringd_parse_slack(const char *s) {
	char *end;
	if (*s < '0' || *s > '9') {
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long unit;
	if (strcmp(end, "") == 0 || strcmp(end, "ns") == 0) {
		unit = 1;
	} else if (strcmp(end, "us") == 0 || strcmp(end, "\xc2\xb5s") == 0) {
		unit = 1000;
	} else if (strcmp(end, "ms") == 0) {
		unit = 1000000;
	} else if (strcmp(end, "s") == 0) {
		unit = 1000000000;
	} else {
		return -1;
	}
	if (v > 1000000000ULL / unit) {
		return -1; // over 1s (and no overflow)
	}
	return (long long)(v * unit);
}

__attribute__((constructor)) static void ringd_set_timer_slack(void) {
	long long ns = 1000000;
	const char *s = getenv("RINGD_TIMER_SLACK");
	if (s != NULL) {
		ns = ringd_parse_slack(s);
	}
	if (ns > 0 && prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0, 0, 0) != 0) {
		ns = -2;
	}
	ringd_timer_slack_ns = ns;
}
*/
import "C"

import (
	"fmt"
	"os"
	"time"
)

// timerSlack reports the slack the constructor set (0: the inherited one
// was left), or why it set none.
func timerSlack() (time.Duration, error) {
	switch ns := int64(C.ringd_timer_slack_ns); ns {
	case -1:
		return 0, fmt.Errorf("RINGD_TIMER_SLACK=%q: want a duration of at most 1s, such as 1ms or 250us", os.Getenv("RINGD_TIMER_SLACK"))
	case -2:
		return 0, fmt.Errorf("RINGD_TIMER_SLACK: the kernel refused prctl(PR_SET_TIMERSLACK)")
	default:
		return time.Duration(ns), nil
	}
}
