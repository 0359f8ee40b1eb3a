package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

// InvocationsPath is the emulator's invoke endpoint (the Lambda Invoke API's).
const InvocationsPath = "/2015-03-31/functions/function/invocations"

// Options configures an emulator run.
type Options struct {
	// Bootstrap is the function binary (a provided.al2023 bootstrap).
	Bootstrap string
	// Env is added to this process's environment for the emulator, which
	// hands its whole environment to the bootstrap.
	Env []string
	// Binary is the emulator; empty means EnsureInstalled(RepoRoot).
	Binary string
	// RepoRoot holds the go.mod that pins the emulator; empty means
	// FindRepoRoot of the working directory.
	RepoRoot string
	// Timeout is the function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT, whole
	// seconds); zero means 60 s.
	Timeout time.Duration
	// Output also receives the emulator's and the bootstrap's logs.
	Output io.Writer
}

// RIE is a running emulator.
type RIE struct {
	addr   string
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
	once   sync.Once
	client *http.Client
}

// Start builds the emulator if needed and starts it on free loopback
// ports with bootstrap as the function. The emulator starts the bootstrap on
// the first Invoke. Cancelling ctx kills it; so does Stop.
func Start(ctx context.Context, bootstrap string, env []string) (*RIE, error) {
	return StartWithOptions(ctx, Options{Bootstrap: bootstrap, Env: env})
}

// StartT is Start for tests: it fails the test loudly if the emulator cannot
// be built or started, stops it when the test ends and logs its output
// if the test failed.
func StartT(t testing.TB, bootstrap string, env []string) *RIE {
	t.Helper()
	r, err := StartWithOptions(context.Background(), Options{Bootstrap: bootstrap, Env: env})
	if err != nil {
		t.Fatalf("start the Runtime Interface Emulator: %v", err)
	}
	t.Cleanup(func() {
		_ = r.Stop()
		if t.Failed() {
			t.Logf("emulator and bootstrap output:\n%s", r.Output())
		}
	})
	return r
}

// StartWithOptions is Start with every option.
func StartWithOptions(ctx context.Context, o Options) (*RIE, error) {
	if _, err := os.Stat(o.Bootstrap); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	bin := o.Binary
	if bin == "" {
		root := o.RepoRoot
		if root == "" {
			var err error
			if root, err = FindRepoRoot("."); err != nil {
				return nil, err
			}
		}
		var err error
		if bin, err = EnsureInstalled(root); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	// Flags before the bootstrap: the emulator takes every other argument
	// as the bootstrap command line (and the last of several as a handler).
	cmd := exec.CommandContext(ctx, bin,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", apiAddr,
		o.Bootstrap)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int((timeout+time.Second-1)/time.Second)))
	cmd.Env = append(cmd.Env, o.Env...)
	out := &syncbuf.Buffer{}
	var w io.Writer = out
	if o.Output != nil {
		w = io.MultiWriter(out, o.Output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	setProcessGroup(cmd)
	cmd.Cancel = func() error { kill(cmd); return nil }
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &RIE{addr: addr, cmd: cmd, out: out, exited: make(chan struct{}), client: &http.Client{}}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	if err := r.waitReady(10 * time.Second); err != nil {
		_ = r.Stop()
		return nil, fmt.Errorf("%w\n%s", err, out.String())
	}
	return r, nil
}

// waitReady waits until the emulator accepts connections.
func (r *RIE) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-r.exited:
			return errors.New("the emulator exited at start")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not listen on %s within %v", r.addr, limit)
		}
	}
}

// Addr is the emulator's host:port.
func (r *RIE) Addr() string { return r.addr }

// URL is the emulator's invoke URL.
func (r *RIE) URL() string { return "http://" + r.addr + InvocationsPath }

// Output is what the emulator and the bootstrap have logged so far.
func (r *RIE) Output() string { return r.out.String() }

// InvokeError is a non-200 answer of the emulator (a function error, a
// crashed bootstrap, a timeout).
type InvokeError struct {
	Status int
	Body   []byte
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("emulator answered %d: %s", e.Status, e.Body)
}

// Invoke sends one event and returns the function's raw answer: JSON for a
// buffered response, prelude + NULs + body for a streamed one (see Decode).
func (r *RIE) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL(), bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke the emulator: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the emulator's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, &InvokeError{Status: resp.StatusCode, Body: body}
	}
	return body, nil
}

// Stop ends the emulator and its bootstrap: SIGTERM (the emulator then
// stops the runtime), then SIGKILL to the process group after two seconds.
func (r *RIE) Stop() error {
	r.once.Do(func() {
		terminate(r.cmd)
		select {
		case <-r.exited:
		case <-time.After(2 * time.Second):
		}
		kill(r.cmd)
		select {
		case <-r.exited:
		case <-time.After(5 * time.Second):
		}
	})
	return nil
}

// freeAddr picks a free loopback port. Another process could take it before
// the emulator does; tests are not run against hostile neighbours.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
