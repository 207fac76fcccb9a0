package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/ringd/ringd/client"
)

// commandDocs is the longer help of commands that need more than a line.
var commandDocs = map[string]string{
	"register": `
Prints the number and its uuid, and remembers both in the config for this
server. The uuid is the number's secret: whoever has it acts as the number.
It is printed only here, so it can be kept elsewhere too. With -q only the
number is printed, for scripts: A=$(ringctl register -q).`,
	"login": `
Binds every number remembered for this server to this device, in one step:
numbers the device had before and are not listed are unbound. The device is
named by a push token that ringctl generates once and remembers; the other
fields default to what the last login used. Flags given are remembered.`,
	"send": `
TEXT is the words after NUMBER joined by spaces; use "--" before a text that
starts with "-". With -file the file is streamed, not read into memory.
Each run gives its message a random cid, so a send retried after a lost
answer (or an overloaded server) is stored only once. With -q only the
msgid is printed, for scripts: M=$(ringctl send -q NUMBER hello).`,
	"sends": `
NUMBERS are comma-separated. The server stores the data once. Numbers that
are not in use are reported on stderr; the rest are sent.`,
	"get": `
Takes the new messages of every remembered number (or of -as), marks them
delivered, and prints them, oldest first. Texts of up to 4096 bytes are
printed; files and longer texts are listed with the msgid to fetch them by.
Gets again while the server says more are waiting.`,
	"history": `
Lists every message of the last day, delivered or not, and marks nothing:
how to see again what a lost answer or another device took.`,
	"fetch": `
Writes the data to PATH ("-" for stdout; the default when stdout is not a
terminal). An existing PATH is left alone unless -f (overwrite it) or -c
(resume it from its size) is given. A broken download leaves what arrived
in PATH, ready for -c.`,
}

func cmdRegister(a *app, args []string) error {
	fs := a.flagSet("register")
	auth := fs.String("auth", "", "the server's registration `KEY`, if it has one (default: $RINGCTL_AUTH)")
	quiet := fs.Bool("q", false, "print only the number, for scripts (the uuid is still remembered)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("too many arguments")
	}
	if *quiet && a.g.json {
		return usagef("give -q or -json, not both")
	}
	req := client.RegisterRequest{Auth: *auth}
	if req.Auth == "" {
		req.Auth = a.getenv("RINGCTL_AUTH")
	}
	if len(pos) == 1 {
		req.Number = pos[0]
	}
	if err := a.setup(); err != nil {
		return err
	}
	resp, err := a.client.Register(a.ctx, req)
	if err != nil {
		return err
	}
	// Print before saving: if the config cannot be written the uuid is
	// still in the user's hands, and the number is not lost.
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case *quiet:
		fmt.Fprintln(a.stdout, resp.Number)
	default:
		fmt.Fprintf(a.stdout, "registered %s\nuuid %s\n", resp.Number, resp.UUID)
	}
	a.cfg.remember(numberEntry{Number: resp.Number, UUID: resp.UUID, Server: a.server})
	if err := a.saveConfig(); err != nil {
		return err
	}
	if !a.g.json && !*quiet {
		fmt.Fprintf(a.stderr, "remembered in %s; run 'ringctl login' to bind it to this device\n", a.cfgPath)
	}
	return nil
}

func cmdLogin(a *app, args []string) error {
	fs := a.flagSet("login")
	appid := fs.String("appid", "", "application `ID`, 2-32 characters (default: last used, else \"ringctl\")")
	build := fs.String("build", "", "build `VERSION`, 2-16 characters (default: last used, else ringctl's version)")
	name := fs.String("name", "", "display `NAME` of the numbers, 2-32 characters (default: last used, else $USER)")
	locale := fs.String("locale", "", "`LOCALE`, 2-6 characters, e.g. en_US (default: last used, else from $LANG)")
	token := fs.String("token", "", "push `TOKEN` naming this device, 8-228 characters (default: generated once and remembered)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("login takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	nums := a.cfg.numbersOf(a.server)
	if len(nums) == 0 {
		return fmt.Errorf("no number is remembered for %s: run 'ringctl register' first (or 'ringctl logout' to unbind this device)", a.server)
	}
	d, err := a.device(*appid, *build, *name, *locale, *token)
	if err != nil {
		return err
	}
	req := client.LoginRequest{AppID: d.AppID, Build: d.Build, Name: d.Name, Locale: d.Locale, Token: d.Token}
	for _, n := range nums {
		req.UUIDs = append(req.UUIDs, n.UUID)
	}
	resp, err := a.client.Login(a.ctx, req)
	if err != nil {
		return err
	}
	a.cfg.Device = d
	if err := a.saveConfig(); err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "logged in as %q: %s\n", d.Name, strings.Join(resp.Numbers, ", "))
	}
	return nil
}

func cmdLogout(a *app, args []string) error {
	fs := a.flagSet("logout")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("logout takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	if a.cfg.Device.Token == "" {
		return errors.New("this ringctl has never logged in: nothing to log out")
	}
	d, err := a.device("", "", "", "", "")
	if err != nil {
		return err
	}
	resp, err := a.client.Login(a.ctx, client.LoginRequest{
		AppID: d.AppID, Build: d.Build, Name: d.Name, Locale: d.Locale, Token: d.Token, UUIDs: []string{},
	})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintln(a.stdout, "logged out: no number is bound to this device")
	}
	return nil
}

// device is what login sends: each flag given, else what the last login
// used, else a default. The token is generated once.
func (a *app) device(appid, build, name, locale, token string) (device, error) {
	d := a.cfg.Device
	pick := func(flagValue string, field *string, def func() string) {
		switch {
		case flagValue != "":
			*field = flagValue
		case *field == "":
			*field = def()
		}
	}
	pick(appid, &d.AppID, func() string { return "ringctl" })
	pick(build, &d.Build, func() string { return clip(moduleVersion(), 2, 16, "dev") })
	pick(name, &d.Name, func() string {
		for _, v := range []string{"USER", "LOGNAME"} {
			if u := a.getenv(v); u != "" {
				return clip(u, 2, 32, "ringctl")
			}
		}
		return "ringctl"
	})
	pick(locale, &d.Locale, func() string { return localeFromEnv(a.getenv) })
	var genErr error
	pick(token, &d.Token, func() string {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			genErr = err
		}
		return "ringctl-" + hex.EncodeToString(b)
	})
	return d, genErr
}

// clip shortens s to at most max characters; a result under min is def.
func clip(s string, min, max int, def string) string {
	r := []rune(s)
	if len(r) > max {
		r = r[:max]
	}
	if len(r) < min {
		return def
	}
	return string(r)
}

// localeFromEnv turns "en_US.UTF-8" or "de_DE@euro" into "en_US" or
// "de_DE"; C, POSIX and anything the seed's 2-6 characters cannot hold
// become "en".
func localeFromEnv(getenv func(string) string) string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		l := getenv(v)
		if l == "" {
			continue
		}
		l, _, _ = strings.Cut(l, ".")
		l, _, _ = strings.Cut(l, "@")
		if l == "C" || l == "POSIX" || len(l) < 2 || len(l) > 6 {
			return "en"
		}
		return l
	}
	return "en"
}

// payload is the data of a send: a text or an open file, readable again
// from the start for each retry.
type payload struct {
	text  string
	file  *os.File
	size  int64
	fname string
}

func openPayload(text, path, fname string) (*payload, error) {
	if path == "" {
		if !utf8.ValidString(text) {
			return nil, errors.New("the text is not valid UTF-8")
		}
		return &payload{text: text, size: int64(len(text))}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file: its length must be known before sending", path)
	}
	if fname == "" {
		fname = filepath.Base(path)
	}
	if n := utf8.RuneCountInString(fname); n < 2 || n > 100 || strings.ContainsAny(fname, `/\`) || strings.IndexFunc(fname, unicode.IsControl) >= 0 {
		f.Close()
		return nil, usagef("file name %q must be 2-100 characters without / or \\: give another with -fname", fname)
	}
	return &payload{file: f, size: st.Size(), fname: fname}, nil
}

// reader returns the data from its start.
func (p *payload) reader() (io.Reader, error) {
	if p.file == nil {
		return strings.NewReader(p.text), nil
	}
	if _, err := p.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return p.file, nil
}

func (p *payload) close() {
	if p.file != nil {
		p.file.Close()
	}
}

// sendFlags are the flags of send and sends.
type sendFlags struct {
	file, fname, name, cid *string
	retries                *int
	quiet                  *bool
}

func addSendFlags(fs interface {
	String(string, string, string) *string
	Int(string, int, string) *int
	Bool(string, bool, string) *bool
}) sendFlags {
	return sendFlags{
		file:    fs.String("file", "", "send the file at `PATH` instead of a text"),
		fname:   fs.String("fname", "", "file `NAME` the receiver sees (default: PATH's base name)"),
		name:    fs.String("name", "", "sender display `NAME` for this message (default: the name given at login)"),
		cid:     fs.String("cid", "", "client message `ID` that makes retries safe (default: random per run)"),
		retries: fs.Int("retries", 2, "retries after 'server busy' or a lost connection; safe thanks to the cid"),
		quiet:   fs.Bool("q", false, "print only the msgid (sends: NUMBER MSGID, one a line), for scripts"),
	}
}

// preparePayload checks a send's text-or-file arguments and opens the data.
func (f sendFlags) preparePayload(words []string) (*payload, string, error) {
	text := strings.Join(words, " ")
	switch {
	case *f.file != "" && text != "":
		return nil, "", usagef("give a TEXT or -file PATH, not both")
	case *f.file == "" && text == "":
		return nil, "", usagef("missing TEXT (or -file PATH)")
	case *f.file == "" && *f.fname != "":
		return nil, "", usagef("-fname needs -file")
	}
	p, err := openPayload(text, *f.file, *f.fname)
	if err != nil {
		return nil, "", err
	}
	cid := *f.cid
	if cid == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			p.close()
			return nil, "", err
		}
		cid = hex.EncodeToString(b)
	}
	return p, cid, nil
}

func cmdSend(a *app, args []string) error {
	fs := a.flagSet("send")
	sf := addSendFlags(fs)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("missing NUMBER")
	}
	if *sf.quiet && a.g.json {
		return usagef("give -q or -json, not both")
	}
	p, cid, err := sf.preparePayload(pos[1:])
	if err != nil {
		return err
	}
	defer p.close()
	me, err := a.setupActing()
	if err != nil {
		return err
	}
	var resp *client.SendResponse
	err = a.upload(p, *sf.retries, func(progress client.ProgressFunc, r io.Reader) (err error) {
		req := client.SendRequest{UUID: me.UUID, Callee: pos[0], CallerName: *sf.name, Fname: p.fname, CID: cid, Progress: progress}
		resp, err = a.client.Send(a.ctx, req, r, p.size)
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case *sf.quiet:
		fmt.Fprintln(a.stdout, clean(resp.MsgID, false))
	default:
		fmt.Fprintf(a.stdout, "sent to %s: msgid %s\n", pos[0], resp.MsgID)
	}
	return nil
}

func cmdSends(a *app, args []string) error {
	fs := a.flagSet("sends")
	sf := addSendFlags(fs)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("missing NUMBER,NUMBER...")
	}
	var callees []string
	for _, n := range strings.Split(pos[0], ",") {
		if n = strings.TrimSpace(n); n != "" {
			callees = append(callees, n)
		}
	}
	if len(callees) == 0 {
		return usagef("no numbers in %q", pos[0])
	}
	if *sf.quiet && a.g.json {
		return usagef("give -q or -json, not both")
	}
	p, cid, err := sf.preparePayload(pos[1:])
	if err != nil {
		return err
	}
	defer p.close()
	me, err := a.setupActing()
	if err != nil {
		return err
	}
	var resp *client.SendsResponse
	err = a.upload(p, *sf.retries, func(progress client.ProgressFunc, r io.Reader) (err error) {
		req := client.SendsRequest{UUID: me.UUID, Callees: callees, CallerName: *sf.name, Fname: p.fname, CID: cid, Progress: progress}
		resp, err = a.client.Sends(a.ctx, req, r, p.size)
		return err
	})
	if err != nil {
		return err
	}
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case *sf.quiet:
		for _, n := range sortedKeys(resp.MsgIDs) {
			fmt.Fprintf(a.stdout, "%s %s\n", n, clean(resp.MsgIDs[n], false))
		}
	default:
		for _, n := range sortedKeys(resp.MsgIDs) {
			fmt.Fprintf(a.stdout, "sent to %s: msgid %s\n", n, resp.MsgIDs[n])
		}
	}
	if len(resp.Failed) > 0 {
		fmt.Fprintf(a.stderr, "not sent, not in use: %s\n", strings.Join(resp.Failed, ", "))
	}
	return nil
}

// upload runs send with p's data and the progress display, and again
// after a 'server busy' answer or a failure that may have lost the answer,
// up to retries more times, each time with p's data from its start. Only
// sends are retried, and they carry a cid, so a retry whose first try was
// in fact stored stores nothing new.
func (a *app) upload(p *payload, retries int, send func(progress client.ProgressFunc, r io.Reader) error) error {
	progress, finish := a.progress("sending", p.size)
	defer finish()
	for attempt := 0; ; attempt++ {
		r, err := p.reader()
		if err == nil {
			err = send(progress, r)
		}
		if err == nil || attempt >= retries || !retryable(err) || a.ctx.Err() != nil {
			return err
		}
		wait := time.Duration(attempt+1) * time.Second
		var ce *client.Error
		if errors.As(err, &ce) && ce.RetryAfter > 0 {
			wait = min(ce.RetryAfter, 30*time.Second)
		}
		fmt.Fprintf(a.stderr, "ringctl: %v; retrying in %v\n", err, wait)
		select {
		case <-time.After(wait):
		case <-a.ctx.Done():
			return err
		}
	}
}

func retryable(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Code == client.ServerBusy
	}
	var ue usageError
	switch {
	case errors.As(err, &ue),
		errors.Is(err, syscall.ECONNREFUSED), // nothing listens: retrying only delays the error
		errors.Is(err, io.ErrUnexpectedEOF),  // the local file shrank: it would again
		errors.Is(err, os.ErrNotExist):
		return false
	}
	return true
}

func cmdGet(a *app, args []string) error {
	fs := a.flagSet("get")
	after := fs.Int64("after", 0, "only messages newer than this Unix `TIME` (the server keeps one day)")
	wait := fs.Int("wait", 0, "wait up to `SECONDS` for a message when none is waiting (long poll)")
	once := fs.Bool("once", false, "get one answer only, even when the server says more are waiting")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("get takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	nums, err := a.receivers()
	if err != nil {
		return err
	}
	req := client.GetRequest{After: *after, Wait: *wait}
	for _, n := range nums {
		req.UUIDs = append(req.UUIDs, n.UUID)
	}
	count := 0
	// A bound, so a server that always says "more" cannot keep us forever.
	for range 10000 {
		resp, err := a.client.Get(a.ctx, req)
		if err != nil {
			return err
		}
		if a.g.json {
			a.printRaw(resp.Raw)
		} else {
			for i := range resp.Messages {
				a.printMessage(&resp.Messages[i], len(nums) > 1)
			}
		}
		count += len(resp.Messages)
		if !resp.More || *once {
			break
		}
	}
	if count == 0 && !a.g.json {
		fmt.Fprintln(a.stdout, "no new messages")
	}
	return nil
}

func cmdHistory(a *app, args []string) error {
	fs := a.flagSet("history")
	after := fs.Int64("after", 0, "only messages newer than this Unix `TIME`")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("history takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	nums, err := a.receivers()
	if err != nil {
		return err
	}
	req := client.HistoryRequest{After: *after}
	for _, n := range nums {
		req.UUIDs = append(req.UUIDs, n.UUID)
	}
	// History marks nothing, so asking again would return the same page:
	// page with after_msgid, the last msgid got, while the server says more.
	// Seen msgids guard against a server that ignores after_msgid.
	seen := map[string]bool{}
	for range 10000 {
		resp, err := a.client.History(a.ctx, req)
		if err != nil {
			return err
		}
		if a.g.json {
			a.printRaw(resp.Raw)
		}
		fresh := 0
		for i := range resp.Messages {
			m := &resp.Messages[i]
			if seen[m.MsgID] {
				continue
			}
			seen[m.MsgID] = true
			fresh++
			if !a.g.json {
				a.printMessage(m, len(nums) > 1)
			}
			req.AfterMsgID = m.MsgID
		}
		if !resp.More || fresh == 0 {
			break
		}
	}
	if len(seen) == 0 && !a.g.json {
		fmt.Fprintln(a.stdout, "no messages in the last day")
	}
	return nil
}

// printMessage prints one message for a person. Names, texts and file names
// come from other users, so control characters are replaced: they could
// otherwise drive the terminal.
func (a *app) printMessage(m *client.Message, showCallee bool) {
	from := m.Caller
	if m.CallerName != "" {
		from += " (" + clean(m.CallerName, false) + ")"
	}
	if showCallee {
		from += " -> " + m.Callee
	}
	id := "[" + clean(m.MsgID, false) + "]"
	if m.State != "" { // history says where each message is
		id += " " + clean(m.State, false)
	}
	fmt.Fprintf(a.stdout, "%s  %s  %s\n", m.Stored().Format("2006-01-02 15:04:05"), from, id)
	switch {
	case m.IsMissedCall():
		fmt.Fprintln(a.stdout, "    missed call")
	case m.IsFile():
		fmt.Fprintf(a.stdout, "    file %q, %s: ringctl fetch %s -o %s\n", clean(m.Fname, false), humanBytes(m.Length),
			clean(m.MsgID, false), shellQuote(clean(filepath.Base(m.Fname), false)))
	case m.Text != "":
		for _, line := range strings.Split(clean(m.Text, true), "\n") {
			fmt.Fprintf(a.stdout, "    %s\n", line)
		}
	default:
		fmt.Fprintf(a.stdout, "    text of %s: ringctl fetch %s -o -\n", humanBytes(m.Length), clean(m.MsgID, false))
	}
}

// clean replaces control characters (keeping newlines and tabs when
// multiline) with U+FFFD.
func clean(s string, multiline bool) string {
	return strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return utf8.RuneError
		}
		return r
	}, s)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// fetchArgs are fetch's command line.
type fetchArgs struct {
	msgid, out    string
	resume, force bool
}

// parseFetch parses and checks fetch's command line.
func (a *app) parseFetch(args []string) (fetchArgs, error) {
	fs := a.flagSet("fetch")
	out := fs.String("o", "", "write the data to `PATH`; \"-\" for stdout")
	resume := fs.Bool("c", false, "continue: resume an existing PATH from its size")
	force := fs.Bool("f", false, "overwrite an existing PATH")
	pos, err := a.parse(fs, args)
	if err != nil {
		return fetchArgs{}, err
	}
	if len(pos) != 1 {
		return fetchArgs{}, usagef("give one MSGID")
	}
	if *out == "" {
		if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return fetchArgs{}, usagef("give -o PATH (or -o - to write to the terminal)")
		}
		*out = "-"
	}
	switch {
	case *out == "-" && a.g.json:
		return fetchArgs{}, usagef("-json with -o - would mix the answer with the data on stdout")
	case *out == "-" && *resume:
		return fetchArgs{}, usagef("-c needs -o PATH")
	case *force && *resume:
		return fetchArgs{}, usagef("give -f (overwrite) or -c (resume), not both")
	}
	return fetchArgs{msgid: pos[0], out: *out, resume: *resume, force: *force}, nil
}

func cmdFetch(a *app, args []string) error {
	fa, err := a.parseFetch(args)
	if err != nil {
		return err
	}
	me, err := a.setupActing()
	if err != nil {
		return err
	}

	req := client.FetchRequest{UUID: me.UUID, MsgID: fa.msgid}
	var dst *fetchFile
	w := a.stdout
	if fa.out != "-" {
		if dst, err = openFetchFile(fa.out, fa.resume, fa.force); err != nil {
			return err
		}
		defer dst.file.Close()
		req.Offset, w = dst.offset, dst
	}
	progress, finish := a.progress("fetching", -1)
	req.Progress = progress
	resp, err := a.client.Fetch(a.ctx, req, w)
	finish()
	if err != nil {
		if dst != nil {
			a.keepPartial(dst, resp != nil)
		}
		return err
	}
	if dst != nil {
		if err := dst.finish(); err != nil {
			return err
		}
	}
	switch {
	case a.g.json:
		a.printRaw(resp.Raw)
	case dst != nil:
		what := "data"
		if resp.Fname != "" {
			what = strconv.Quote(clean(resp.Fname, false))
		}
		fmt.Fprintf(a.stdout, "saved %s (%s) to %s\n", what, humanBytes(req.Offset+resp.Length), fa.out)
	}
	return nil
}

// fetchFile is fetch's -o PATH. A file that existed before is changed only
// once data arrives (or the fetch succeeds empty), so a fetch the server
// refuses leaves it as it was; a file fetch created and got nothing into is
// removed.
type fetchFile struct {
	file    *os.File
	path    string
	offset  int64 // -c: the size it had, where the data continues
	created bool  // it did not exist before this fetch
	resume  bool
	written bool // data has been written: truncated (unless resumed) and in use
}

// openFetchFile opens PATH for fetch: an existing PATH only with force
// (overwrite) or resume.
func openFetchFile(path string, resume, force bool) (*fetchFile, error) {
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resume:
		flags |= os.O_APPEND
	case !force:
		flags |= os.O_EXCL
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, flags, 0o666)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s exists: give -f to overwrite it, or -c to resume it", path)
	}
	if err != nil {
		return nil, err
	}
	ff := &fetchFile{file: f, path: path, created: errors.Is(statErr, os.ErrNotExist), resume: resume}
	if resume {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		ff.offset = st.Size()
	}
	return ff, nil
}

func (f *fetchFile) Write(p []byte) (int, error) {
	if !f.written {
		if err := f.start(); err != nil {
			return 0, err
		}
	}
	return f.file.Write(p)
}

// start truncates an overwritten file when its new data begins.
func (f *fetchFile) start() error {
	f.written = true
	if f.resume {
		return nil
	}
	return f.file.Truncate(0)
}

// finish completes a successful fetch: an empty answer still overwrites.
func (f *fetchFile) finish() error {
	if !f.written {
		if err := f.start(); err != nil {
			return err
		}
	}
	return f.file.Close()
}

// keepPartial tells where a broken download is, or removes the file this
// fetch created when nothing arrived.
func (a *app) keepPartial(f *fetchFile, answered bool) {
	st, err := f.file.Stat()
	switch {
	case err != nil:
	case f.created && st.Size() == 0:
		f.file.Close()
		os.Remove(f.path)
	case answered && f.written && st.Size() > 0:
		fmt.Fprintf(a.stderr, "partial download kept in %s (%s); resume with -c\n", f.path, humanBytes(st.Size()))
	}
}

// msgIDArgs parses the command line of a command that takes MSGIDs (read,
// status) and picks the number that acts.
func (a *app) msgIDArgs(name string, args []string) ([]string, numberEntry, error) {
	pos, err := a.parse(a.flagSet(name), args)
	if err != nil {
		return nil, numberEntry{}, err
	}
	if len(pos) == 0 {
		return nil, numberEntry{}, usagef("give at least one MSGID")
	}
	me, err := a.setupActing()
	return pos, me, err
}

func cmdRead(a *app, args []string) error {
	pos, me, err := a.msgIDArgs("read", args)
	if err != nil {
		return err
	}
	resp, err := a.client.Read(a.ctx, client.MsgIDsRequest{UUID: me.UUID, MsgIDs: pos})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
	} else {
		fmt.Fprintf(a.stdout, "marked %d message(s) read\n", len(pos))
	}
	return nil
}

func cmdStatus(a *app, args []string) error {
	pos, me, err := a.msgIDArgs("status", args)
	if err != nil {
		return err
	}
	resp, err := a.client.Status(a.ctx, client.MsgIDsRequest{UUID: me.UUID, MsgIDs: pos})
	if err != nil {
		return err
	}
	if a.g.json {
		a.printRaw(resp.Raw)
		return nil
	}
	for _, id := range pos {
		state, ok := resp.Status[id]
		if !ok {
			state = "(not in the answer)"
		}
		fmt.Fprintf(a.stdout, "%s  %s\n", id, clean(state, false))
	}
	return nil
}

func cmdNumbers(a *app, args []string) error {
	fs := a.flagSet("numbers")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("numbers takes no arguments")
	}
	if err := a.setup(); err != nil {
		return err
	}
	type listed struct {
		Number string `json:"number"`
		Server string `json:"server"`
		Acting bool   `json:"acting"`
	}
	var list []listed
	acting, _ := a.acting()
	for _, n := range a.cfg.Numbers {
		list = append(list, listed{Number: n.Number, Server: n.Server,
			Acting: n.Number == acting.Number && sameServer(n.Server, a.server)})
	}
	if a.g.json {
		if list == nil {
			list = []listed{}
		}
		b, _ := json.Marshal(list)
		a.printRaw(b)
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintf(a.stdout, "no numbers remembered in %s\n", a.cfgPath)
		return nil
	}
	for _, n := range list {
		mark := ""
		switch {
		case n.Acting && a.g.as != "":
			mark = "  (commands act as this one: named by -as)"
		case n.Acting:
			mark = "  (commands act as this one unless -as names another)"
		}
		fmt.Fprintf(a.stdout, "%s  %s%s\n", n.Number, n.Server, mark)
	}
	return nil
}

func cmdForget(a *app, args []string) error {
	fs := a.flagSet("forget")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("give one NUMBER")
	}
	if err := a.setup(); err != nil {
		return err
	}
	if !a.cfg.forget(pos[0], a.server) {
		return fmt.Errorf("number %s is not remembered for %s", pos[0], a.server)
	}
	if err := a.cfg.save(a.cfgPath); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "forgot %s: its uuid is gone from %s\n", pos[0], a.cfgPath)
	return nil
}
