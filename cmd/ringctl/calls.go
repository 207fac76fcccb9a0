package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/ringd/ringd/client"
)

// callCommands are the call, AI-call, link and operator commands; main.go's
// table appends them.
func callCommands() []command {
	return []command{
		{"call", "NUMBER [-data TEXT | -data-file PATH]", "ring a number; prints the callid", cmdCall},
		{"callinfo", "CALLID [-wait SECONDS] [-o PATH]", "show a call's state (waiting for it to change with -wait) and the other side's data", cmdCallInfo},
		{"answer", "CALLID [-data TEXT | -data-file PATH]", "answer a ringing call", cmdAnswer},
		{"hangup", "CALLID", "end a call (cancel, decline or hang up)", cmdHangup},
		{"listen", "[-wait SECONDS]", "print messages and missed calls as they arrive, until interrupted", cmdListen},
		{"aicall", "[-data TEXT | -data-file PATH]", "call the AI service; prints the callid and its answer", cmdAICall},
		{"balance", "", "show the AI-call balance in seconds", cmdBalance},
		{"link", "DATA", "set the number's link data (once)", cmdLink},
		{"linked", "", "show the number's link data", cmdLinked},
		{"reserve", "NUMBER...", "(operator) make numbers unregistrable; token from -auth or RINGCTL_ADMIN_TOKEN", cmdReserve},
		{"credit", "NUMBER SECONDS", "(operator) add seconds to a number's balance", cmdCredit},
		{"stats", "", "(operator) show the server's counts", cmdStats},
	}
}

// callData reads -data or -data-file.
func callData(text, path string) ([]byte, error) {
	switch {
	case text != "" && path != "":
		return nil, usagef("give -data or -data-file, not both")
	case path != "":
		return os.ReadFile(path)
	case text != "":
		return []byte(text), nil
	}
	return nil, nil
}

// start parses a command's flags, checks its argument count and sets up
// the client and the acting number.
func (a *app) start(name string, args []string, nargs int, define func(fs *flag.FlagSet)) ([]string, numberEntry, error) {
	fs := a.flagSet(name)
	if define != nil {
		define(fs)
	}
	pos, err := a.parse(fs, args)
	if err != nil {
		return nil, numberEntry{}, err
	}
	if nargs >= 0 && len(pos) != nargs {
		return nil, numberEntry{}, usagef("%s takes %d argument(s)", name, nargs)
	}
	me, err := a.setupActing()
	return pos, me, err
}

func cmdCall(a *app, args []string) error {
	var text, path, name *string
	var quiet *bool
	pos, me, err := a.start("call", args, 1, func(fs *flag.FlagSet) {
		text = fs.String("data", "", "call data (e.g. an SDP offer) as `TEXT`")
		path = fs.String("data-file", "", "call data read from `PATH`")
		name = fs.String("name", "", "caller name shown to the callee (default: the stored one)")
		quiet = fs.Bool("q", false, "print only the callid, for scripts: C=$(ringctl call -q NUMBER)")
	})
	if err != nil {
		return err
	}
	if *quiet && a.g.json {
		return usagef("give -q or -json, not both")
	}
	data, err := callData(*text, *path)
	if err != nil {
		return err
	}
	resp, err := a.client.Call(a.ctx, client.CallRequest{UUID: me.UUID, Callee: pos[0], CallerName: *name}, data)
	if err != nil {
		return err
	}
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case *quiet:
		fmt.Fprintln(a.stdout, clean(resp.CallID, false))
	default:
		fmt.Fprintf(a.stdout, "calling %s: callid %s\n", pos[0], clean(resp.CallID, false))
	}
	return nil
}

func cmdCallInfo(a *app, args []string) error {
	var wait *int
	var out *string
	pos, me, err := a.start("callinfo", args, 1, func(fs *flag.FlagSet) {
		wait = fs.Int("wait", 0, "hold the answer up to `SECONDS` (at most 30) until the state changes")
		out = fs.String("o", "", "write the other side's data to `PATH`")
	})
	if err != nil {
		return err
	}
	info, err := a.client.CallInfo(a.ctx, client.CallInfoRequest{UUID: me.UUID, CallID: pos[0], Wait: *wait})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, info.Data, 0o600); err != nil {
			return err
		}
	}
	if a.g.json {
		a.printRaw(info.Raw)
		return nil
	}
	state := clean(info.State, false)
	if info.Reason != "" {
		state += " (" + clean(info.Reason, false) + ")"
	}
	fmt.Fprintf(a.stdout, "call %s: %s -> %s, %s\n", clean(info.CallID, false), info.Caller, info.Callee, state)
	fmt.Fprintf(a.stdout, "started %s", time.Unix(info.Time, 0).Format("2006-01-02 15:04:05"))
	if info.AnswerTime != 0 {
		fmt.Fprintf(a.stdout, ", answered %s", time.Unix(info.AnswerTime, 0).Format("15:04:05"))
	}
	if info.EndTime != 0 {
		fmt.Fprintf(a.stdout, ", ended %s", time.Unix(info.EndTime, 0).Format("15:04:05"))
	}
	fmt.Fprintf(a.stdout, "\nother side's data: %d bytes\n", len(info.Data))
	return nil
}

func cmdAnswer(a *app, args []string) error {
	var text, path *string
	pos, me, err := a.start("answer", args, 1, func(fs *flag.FlagSet) {
		text = fs.String("data", "", "answer data (e.g. an SDP answer) as `TEXT`")
		path = fs.String("data-file", "", "answer data read from `PATH`")
	})
	if err != nil {
		return err
	}
	data, err := callData(*text, *path)
	if err != nil {
		return err
	}
	resp, err := a.client.Answer(a.ctx, client.CallRequestID{UUID: me.UUID, CallID: pos[0]}, data)
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintln(a.stdout, "answered")
	}
	return nil
}

func cmdHangup(a *app, args []string) error {
	pos, me, err := a.start("hangup", args, 1, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Hangup(a.ctx, client.CallRequestID{UUID: me.UUID, CallID: pos[0]})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
		return nil
	}
	// The reason says how it ended: cancelled or declined while it rang,
	// hangup once answered, timeout when the server ended it.
	line := "call " + clean(pos[0], false) + " " + clean(resp.State, false)
	if resp.Reason != "" {
		line += ": " + clean(resp.Reason, false)
	}
	if resp.Seconds != 0 || resp.Balance != 0 { // an AI call
		line += fmt.Sprintf(", %d seconds charged, balance %d seconds", resp.Seconds, resp.Balance)
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

// cmdListen is get with wait in a loop: it prints messages as they come
// and stops on an interrupt (or when the server goes away).
func cmdListen(a *app, args []string) error {
	fs := a.flagSet("listen")
	wait := fs.Int("wait", 30, "seconds each long poll waits (at most 30)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("listen takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	nums, err := a.receivers()
	if err != nil {
		return err
	}
	req := client.GetRequest{Wait: *wait}
	for _, n := range nums {
		req.UUIDs = append(req.UUIDs, n.UUID)
	}
	for a.ctx.Err() == nil {
		resp, err := a.client.Get(a.ctx, req)
		if a.ctx.Err() != nil {
			return nil // interrupted: a clean end
		}
		if err != nil {
			return err
		}
		if a.g.json {
			if len(resp.Messages) > 0 {
				a.printRaw(resp.Raw)
			}
			continue
		}
		for i := range resp.Messages {
			a.printMessage(&resp.Messages[i], len(nums) > 1)
		}
	}
	return nil
}

func cmdAICall(a *app, args []string) error {
	var text, path, out *string
	_, me, err := a.start("aicall", args, 0, func(fs *flag.FlagSet) {
		text = fs.String("data", "", "data for the AI service as `TEXT`")
		path = fs.String("data-file", "", "data for the AI service read from `PATH`")
		out = fs.String("o", "", "write the service's answer to `PATH` instead of printing it")
	})
	if err != nil {
		return err
	}
	data, err := callData(*text, *path)
	if err != nil {
		return err
	}
	resp, err := a.client.AICall(a.ctx, client.AICallRequest{UUID: me.UUID}, data)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.WriteFile(*out, resp.Data, 0o600); err != nil {
			return err
		}
	}
	if a.g.json {
		a.printRaw(resp.Raw)
		return nil
	}
	fmt.Fprintf(a.stdout, "AI call: callid %s (end it with: ringctl hangup %s)\n", clean(resp.CallID, false), clean(resp.CallID, false))
	if *out == "" {
		fmt.Fprintf(a.stdout, "answer: %s\n", clean(string(resp.Data), true))
	}
	return nil
}

func cmdBalance(a *app, args []string) error {
	_, me, err := a.start("balance", args, 0, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Balance(a.ctx, client.UUIDRequest{UUID: me.UUID})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "balance %d seconds\n", resp.Balance)
	}
	return nil
}

func cmdLink(a *app, args []string) error {
	pos, me, err := a.start("link", args, 1, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Link(a.ctx, client.LinkRequest{UUID: me.UUID, Data: pos[0]})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintln(a.stdout, "link data set")
	}
	return nil
}

func cmdLinked(a *app, args []string) error {
	_, me, err := a.start("linked", args, 0, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Linked(a.ctx, client.UUIDRequest{UUID: me.UUID})
	if err != nil {
		return err
	}
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case resp.Data == "":
		fmt.Fprintln(a.stdout, "no link data")
	default:
		fmt.Fprintln(a.stdout, clean(resp.Data, true))
	}
	return nil
}

// adminStart parses an operator command: its token comes from -auth or,
// to keep it off the command line and out of shell history,
// RINGCTL_ADMIN_TOKEN. No number need be remembered.
func (a *app) adminStart(name string, args []string) ([]string, string, error) {
	fs := a.flagSet(name)
	auth := fs.String("auth", "", "the server's admin `TOKEN` (default $RINGCTL_ADMIN_TOKEN)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return nil, "", err
	}
	if *auth == "" {
		*auth = a.getenv("RINGCTL_ADMIN_TOKEN")
	}
	if *auth == "" {
		return nil, "", usagef("%s needs the admin token: -auth or RINGCTL_ADMIN_TOKEN", name)
	}
	if err := a.setup(); err != nil {
		return nil, "", err
	}
	return pos, *auth, nil
}

func cmdReserve(a *app, args []string) error {
	pos, auth, err := a.adminStart("reserve", args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("give at least one NUMBER")
	}
	resp, err := a.client.Reserve(a.ctx, client.ReserveRequest{Auth: auth, Numbers: pos})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "reserved %d number(s)\n", len(pos))
	}
	return nil
}

func cmdCredit(a *app, args []string) error {
	pos, auth, err := a.adminStart("credit", args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("credit takes NUMBER SECONDS")
	}
	secs, err := strconv.ParseInt(pos[1], 10, 64)
	if err != nil || secs <= 0 {
		return usagef("SECONDS must be a positive whole number")
	}
	resp, err := a.client.Credit(a.ctx, client.CreditRequest{Auth: auth, Number: pos[0], Seconds: secs})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "%s: balance %d seconds\n", pos[0], resp.Balance)
	}
	return nil
}

func cmdStats(a *app, args []string) error {
	pos, auth, err := a.adminStart("stats", args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("stats takes no arguments")
	}
	resp, err := a.client.Stats(a.ctx, client.StatsRequest{Auth: auth})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "numbers %d\ndevices %d\nmessages %d\ncalls %d\nbytes %d\n",
			resp.Numbers, resp.Devices, resp.Messages, resp.Calls, resp.Bytes)
	}
	return nil
}
