// Command ringctl is a command-line client for a ringd server: it registers
// numbers, logs them in to a device, sends and receives messages and files.
// It owns a small config file that remembers the server and the numbers'
// uuids, so that commands after `register` need no secrets on the command
// line. Run `ringctl -h` for usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/ringd/ringd/client"
	"github.com/ringd/ringd/internal/version"
)

const defaultServer = "http://127.0.0.1:8080/"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// env is the outside world of one run, so tests can run ringctl in process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// globals are the flags every command accepts, before or after its name.
type globals struct {
	server string
	config string
	json   bool
	as     string
}

// app is one run of ringctl.
type app struct {
	env
	ctx context.Context
	g   globals

	cfgPath string
	cfg     *config
	server  string // the server this run talks to
	client  *client.Client
}

// usageError is a wrong command line: exit code 2 and a hint, as flag does.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

type command struct {
	name    string
	args    string
	summary string
	run     func(a *app, args []string) error
}

var commands []command

func init() {
	// Assigned in init because the help command refers to the table.
	commands = []command{
		{"register", "[NUMBER]", "register a number (a random one when NUMBER is omitted) and remember its uuid", cmdRegister},
		{"login", "", "bind every remembered number to this device's token", cmdLogin},
		{"logout", "", "unbind this device's token from all numbers", cmdLogout},
		{"send", "NUMBER TEXT... | NUMBER -file PATH", "send a text or a file to one number", cmdSend},
		{"sends", "NUMBER,NUMBER... TEXT... | NUMBER,... -file PATH", "send one text or file to several numbers", cmdSends},
		{"get", "", "receive new messages of the remembered numbers (marks them delivered)", cmdGet},
		{"history", "", "list the last day's messages of the remembered numbers, whatever their state", cmdHistory},
		{"fetch", "MSGID -o PATH [-f | -c]", "download a message's file (or long text)", cmdFetch},
		{"read", "MSGID...", "mark received messages read", cmdRead},
		{"status", "MSGID...", "show sent messages' states: sent, delivered or read", cmdStatus},
		{"numbers", "", "list the remembered numbers (never their uuids)", cmdNumbers},
		{"forget", "NUMBER", "drop a remembered number and its uuid from the config", cmdForget},
		{"help", "[COMMAND]", "show usage of ringctl or of a command", cmdHelp},
	}
	commands = append(commands[:len(commands)-1], append(callCommands(), commands[len(commands)-1])...) // calls.go; help stays last
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// run is ringctl's whole life: it returns the exit code. 0 success, 1 an
// error answer or a failure, 2 a wrong command line.
func run(ctx context.Context, args []string, e env) int {
	a := &app{env: e, ctx: ctx}
	top := flag.NewFlagSet("ringctl", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	showVersion := addTopFlags(top, a)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.usage(e.stdout)
			return 0
		}
		fmt.Fprintf(e.stderr, "ringctl: %v\n", err)
		a.usage(e.stderr)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(e.stdout, version.String("ringctl"))
		return 0
	}
	rest := top.Args()
	if len(rest) == 0 {
		a.usage(e.stderr)
		return 2
	}
	cmd := findCommand(rest[0])
	if cmd == nil {
		fmt.Fprintf(e.stderr, "ringctl: unknown command %q\n\n", rest[0])
		a.usage(e.stderr)
		return 2
	}
	err := cmd.run(a, rest[1:])
	var ue usageError
	var ce *client.Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "ringctl %s: %v\nRun 'ringctl help %s' for usage.\n", cmd.name, err, cmd.name)
		return 2
	case errors.As(err, &ce):
		if a.g.json && len(ce.Raw) > 0 {
			fmt.Fprintf(e.stdout, "%s\n", ce.Raw)
		}
		// The text and detail come from the server: cleaned, so they
		// cannot drive the terminal.
		fmt.Fprintf(e.stderr, "ringctl %s: %s\n", cmd.name, clean(err.Error(), false))
		if hint := errorHint(ce.Code); hint != "" {
			fmt.Fprintf(e.stderr, "  %s\n", hint)
		}
		return 1
	default:
		fmt.Fprintf(e.stderr, "ringctl %s: %v\n", cmd.name, err)
		return 1
	}
}

// errorHint says what an error answer usually means for a ringctl user.
func errorHint(code int) string {
	switch code {
	case client.UUIDError:
		return "the server does not know a remembered uuid: was the number registered on another server, or has it expired?"
	case client.CallerNotInUse:
		return "your number is not logged in to a device: run 'ringctl login'"
	case client.CalleeNotInUse:
		return "the number you are sending to is not registered or not logged in"
	case client.ServerBusy:
		return "the server is overloaded: try again shortly"
	case client.MsgIDError:
		return "the message is unknown, expired, or not yours"
	}
	return ""
}

func (a *app) addGlobalFlags(fs *flag.FlagSet) {
	// Defaults are the current values, so that a global flag given before
	// the command survives the command's own parse.
	fs.StringVar(&a.g.server, "server", a.g.server, "ringd server `URL` (default: the last one used, else "+defaultServer+")")
	fs.StringVar(&a.g.config, "config", a.g.config, "config file `PATH` (default: $RINGCTL_CONFIG, else $XDG_CONFIG_HOME/ringd/ringctl.json or ~/.config/ringd/ringctl.json)")
	fs.BoolVar(&a.g.json, "json", a.g.json, "print the server's raw JSON answers, one per line, for scripts")
	fs.StringVar(&a.g.as, "as", a.g.as, "act as the remembered `NUMBER` (default: the first registered)")
}

// addTopFlags defines the flags accepted only before the command: the
// global ones and -version. It returns -version's value.
func addTopFlags(fs *flag.FlagSet, a *app) *bool {
	a.addGlobalFlags(fs)
	return fs.Bool("version", false, "print ringctl's version, commit and Go version, and exit")
}

// firstSession is the walkthrough that 'ringctl -h' ends with. The README's
// "One minute with ringctl" shows the same lines, and a test runs them, so
// every line works when copied against a ringd on the default address.
const firstSession = `A=$(ringctl register -q)         # a new number; its uuid (its secret) stays in the config
B=$(ringctl register -q)         # a second number, to talk to
ringctl login -name Alice        # bind both numbers to this device
ringctl -as $A send $B hello     # a text from A to B
echo 'a small file' > note.txt
M=$(ringctl -as $A send -q $B -file note.txt)   # a file; -q prints only its msgid
ringctl -as $B get               # B's new messages; marks them delivered
ringctl -as $B fetch $M -o copy.txt
ringctl -as $A status $M         # sent, delivered or read
`

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `ringctl is a command-line client for a ringd messaging server.

Usage:
  ringctl [global flags] COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Global flags (also accepted after the command, except -version):
`)
	fs := flag.NewFlagSet("ringctl", flag.ContinueOnError)
	var scratch app
	addTopFlags(fs, &scratch)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, "\nA first session, with ringd running on "+defaultServer+":\n\n")
	for _, line := range strings.SplitAfter(firstSession, "\n") {
		if line != "" {
			fmt.Fprint(w, "  "+line)
		}
	}
	fmt.Fprint(w, `
The config file holds the numbers' uuids, which are their secrets: it is
written with mode 0600; keep it private.
Exit status: 0 success, 1 an error answer or failure (its text and code are
printed), 2 a wrong command line.
`)
}

// flagSet makes a command's flag set, with the global flags and a usage
// text built from the command table.
func (a *app) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.addGlobalFlags(fs)
	fs.Usage = func() {}
	return fs
}

func (a *app) commandUsage(w io.Writer, fs *flag.FlagSet) {
	c := findCommand(fs.Name())
	fmt.Fprintf(w, "Usage: ringctl %s %s\n\n%s.\n", c.name, c.args, capitalize(c.summary))
	if doc := commandDocs[c.name]; doc != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(doc))
	}
	// The command's own flags; the global ones are listed by 'ringctl -h'.
	own := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if !globalFlags[f.Name] {
			own.Var(f.Value, f.Name, f.Usage)
		}
	})
	own.SetOutput(w)
	fmt.Fprintln(w)
	hasOwn := false
	own.VisitAll(func(*flag.Flag) { hasOwn = true })
	if hasOwn {
		fmt.Fprintln(w, "Flags:")
		own.PrintDefaults()
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Global flags -server, -config, -json and -as are accepted too: see 'ringctl -h'.")
}

var globalFlags = map[string]bool{"server": true, "config": true, "json": true, "as": true}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parse parses a command's flags, which may come before, between or after
// its arguments (`send NUMBER -file PATH`); "--" ends the flags. It returns
// the arguments.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.commandUsage(a.stdout, fs)
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// setup loads the config and picks the server. Called once the flags are
// parsed, since -server and -config may follow the command.
func (a *app) setup() error {
	path, err := configPath(a.g.config, a.getenv)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	a.cfgPath, a.cfg = path, cfg
	switch {
	case a.g.server != "":
		a.server = normalizeServer(a.g.server)
	case cfg.Server != "":
		a.server = normalizeServer(cfg.Server)
	default:
		a.server = defaultServer
	}
	a.client = client.New(a.server)
	a.client.HTTPClient = &http.Client{} // no timeout: long polls and large files; Ctrl-C cancels
	a.client.UserAgent = "ringctl/" + moduleVersion()
	return nil
}

// saveConfig writes the config, remembering the server when it was named.
func (a *app) saveConfig() error {
	if a.g.server != "" {
		a.cfg.Server = a.server
	}
	if err := a.cfg.save(a.cfgPath); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	return nil
}

// acting is the remembered number that acts: -as, else the first.
func (a *app) acting() (numberEntry, error) {
	nums := a.cfg.numbersOf(a.server)
	if a.g.as != "" {
		for _, n := range nums {
			if n.Number == a.g.as {
				return n, nil
			}
		}
		return numberEntry{}, fmt.Errorf("number %s is not remembered for %s (see 'ringctl numbers')", a.g.as, a.server)
	}
	if len(nums) == 0 {
		return numberEntry{}, fmt.Errorf("no number is remembered for %s: run 'ringctl register' first", a.server)
	}
	return nums[0], nil
}

// setupActing is setup, then acting: what a command that acts as one
// number does once its flags are parsed.
func (a *app) setupActing() (numberEntry, error) {
	if err := a.setup(); err != nil {
		return numberEntry{}, err
	}
	return a.acting()
}

// receivers are the numbers whose messages get and history take: -as, else
// all remembered for the server.
func (a *app) receivers() ([]numberEntry, error) {
	if a.g.as != "" {
		n, err := a.acting()
		if err != nil {
			return nil, err
		}
		return []numberEntry{n}, nil
	}
	nums := a.cfg.numbersOf(a.server)
	if len(nums) == 0 {
		return nil, fmt.Errorf("no number is remembered for %s: run 'ringctl register' first", a.server)
	}
	return nums, nil
}

// printRaw prints an answer's JSON on one line (-json).
func (a *app) printRaw(raw json.RawMessage) {
	fmt.Fprintf(a.stdout, "%s\n", raw)
}

// progress returns a progress callback and its finish, when stderr is a
// terminal and the transfer is large; else nil and a no-op. A size of -1
// (a download, whose size the answer tells) decides on the first update.
func (a *app) progress(label string, size int64) (client.ProgressFunc, func()) {
	f, ok := a.stderr.(*os.File)
	if !ok || (size >= 0 && size < progressThreshold) || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := newProgressBar(a.stderr, label)
	return func(done, total int64) {
		if total >= progressThreshold {
			bar.update(done, total)
		}
	}, bar.finish
}

func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func cmdHelp(a *app, args []string) error {
	if len(args) == 0 {
		a.usage(a.stdout)
		return nil
	}
	c := findCommand(args[0])
	if c == nil {
		return usagef("unknown command %q", args[0])
	}
	return c.run(a, []string{"-h"})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
