// Command invoke runs one sample event through the real bootstrap under the
// Lambda Runtime Interface Emulator and prints the HTTP answer: what
// `make invoke EVENT=events/x.json` shows. It builds nothing: it is handed a
// bootstrap binary, an event file and the function's environment.
//
//	go run ./infra/invoke -bootstrap bin/bootstrap -event events/function-url-stream.json \
//	    (-stub | -upstream http://127.0.0.1:8081) [-env KEY=VAL ...]
//
// The emulator buffers streamed answers, so the body is printed whole once
// the function is done; its framing (the streaming prelude) is decoded.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/rie"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

// envFlags collects repeated -env KEY=VAL flags.
type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }

func (e *envFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VAL, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

// has reports whether KEY was set by a -env flag.
func (e envFlags) has(key string) bool {
	for _, kv := range e {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// invokeArgs are the command's flags.
type invokeArgs struct {
	bootstrap, eventPath, upstream, apiKey string
	useStub, raw, verbose                  bool
	timeout                                time.Duration
	env                                    envFlags
}

func parseArgs(args []string, stderr io.Writer) (invokeArgs, error) {
	var a invokeArgs
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.bootstrap, "bootstrap", "", "the function's bootstrap binary (required)")
	fs.StringVar(&a.eventPath, "event", "", "event JSON file, - for standard input (required)")
	fs.StringVar(&a.upstream, "upstream", "", "OpenAI-compatible base URL (e.g. a stub); writes a config for it unless -env sets "+configFileEnv)
	fs.BoolVar(&a.useStub, "stub", false, "serve the stub upstream (internal/testenv/stub) on a loopback port and use it as -upstream")
	fs.StringVar(&a.apiKey, "key", "test-key", "API key sent upstream by the -upstream config")
	fs.DurationVar(&a.timeout, "timeout", 2*time.Minute, "give up on the invocation after this long")
	fs.BoolVar(&a.raw, "raw", false, "print the emulator's answer undecoded")
	fs.BoolVar(&a.verbose, "v", false, "print the emulator's and the function's logs to standard error")
	fs.Var(&a.env, "env", "KEY=VAL for the function's environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	if a.bootstrap == "" || a.eventPath == "" {
		fs.Usage()
		return a, errors.New("-bootstrap and -event are required")
	}
	if a.useStub && a.upstream != "" {
		return a, errors.New("-stub and -upstream exclude each other")
	}
	return a, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	a, err := parseArgs(args, stderr)
	if err != nil {
		return err
	}
	event, err := readEvent(a.eventPath)
	if err != nil {
		return err
	}
	env, cleanup, err := upstreamEnv(a)
	if err != nil {
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()

	opts := rie.Options{Bootstrap: a.bootstrap, Env: env}
	if a.verbose {
		opts.Output = stderr
	}
	emu, err := rie.StartWithOptions(ctx, opts)
	if err != nil {
		return err
	}
	defer emu.Stop()

	answer, err := emu.Invoke(ctx, event)
	if err != nil {
		var ie *rie.InvokeError
		if !errors.As(err, &ie) {
			return fmt.Errorf("%w\n%s", err, emu.Output())
		}
	}
	if a.raw {
		_, _ = stdout.Write(answer)
		return err
	}
	return printAnswer(stdout, answer, err)
}

// upstreamEnv is the function's environment: the -env flags, plus a
// configuration file for -upstream (or the stub it starts for -stub)
// unless they name one. cleanup stops the stub and removes the file.
func upstreamEnv(a invokeArgs) (env envFlags, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	env, upstream := a.env, a.upstream
	if a.useStub {
		srv := httptest.NewServer(stub.New())
		undo = append(undo, srv.Close)
		upstream = srv.URL
	}
	if upstream != "" && !env.has(configFileEnv) {
		path, remove, err := writeUpstreamConfig(upstream, a.apiKey)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		undo = append(undo, remove)
		env = append(env, configFileEnv+"="+path)
	}
	return env, cleanup, nil
}

func readEvent(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	return b, nil
}

// printAnswer prints status, headers and body. A function error (the
// emulator answers with the error JSON) is printed and returned as an error.
func printAnswer(w io.Writer, answer []byte, invokeErr error) error {
	resp, err := rie.Decode(answer)
	if err != nil {
		return err
	}
	if resp.Form == "raw" {
		fmt.Fprintf(w, "%s\n", answer)
		if invokeErr != nil {
			return invokeErr
		}
		if strings.Contains(string(answer), `"errorType"`) {
			return errors.New("the function returned an error")
		}
		return nil
	}
	fmt.Fprintf(w, "%s(%s response)\n\n%s", resp, resp.Form, resp.Body)
	if len(resp.Body) > 0 && resp.Body[len(resp.Body)-1] != '\n' {
		fmt.Fprintln(w)
	}
	return invokeErr
}
