// Package motoserver runs moto's standalone server (moto_server), a local
// implementation of the real AWS APIs, for tests that must talk to SSM over
// HTTP through the AWS SDK rather than to an in-memory fake.
//
// moto is a Python program, installed with pip install 'moto[server]'
// (Debian has no package for it; this project's machine image ships moto
// 5.2.1). Start fails the test loudly when moto_server is not on PATH,
// because a skipped SSM test hides exactly the failures these tests exist
// to find.
//
// moto facts the tests rely on (pinned by this package's tests, moto 5.x):
// it serves the real SSM JSON API on "/" and ignores signatures; a
// SecureString read without decryption comes back as
// "kms:alias/aws/ssm:<value>", with decryption as the plain value;
// GetParameters lists unknown names in InvalidParameters and rejects more
// than 10 names with ValidationException; versions start at 1 and grow on
// overwrite; all state is in memory, so a restarted server is empty. It
// starts in about 1-2 s (up to ~4 s cold).
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary is the executable looked up on PATH.
const Binary = "moto_server"

// Region is the region Env points the SDK at.
const Region = "us-east-1"

// startTimeout bounds how long Start waits for moto to answer. A warm start
// takes about 1-2 s; a cold one (first import of moto's modules) up to ~4 s.
const startTimeout = 30 * time.Second

// installHelp is the message for a missing moto_server.
const installHelp = "moto_server was not found on PATH. The SSM tests run against a real SSM API served by moto " +
	"and are never skipped. Install it with: pip install 'moto[server]', " +
	"then check that `moto_server -h` works"

// Server is one moto_server process bound to 127.0.0.1. It keeps its port
// across Stop and Restart so that a client configured once sees the API go
// down and come back. All data lives in the process: a restarted server
// starts empty.
type Server struct {
	port   int
	binary string

	mu   sync.Mutex
	proc *process // nil while stopped
}

type process struct {
	cmd    *exec.Cmd
	output *tailBuffer
	exited chan struct{} // closed when the process has been reaped
	err    error         // Wait's result, valid once exited is closed
}

// Start launches moto_server on a free loopback port, waits until it answers
// HTTP, and registers a cleanup that kills it. It fails the test if
// moto_server is missing or does not come up.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatalf("motoserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewStopped returns a server that has a port but is not running yet,
// for tests that begin with SSM down: requests get "connection refused"
// until Restart starts it. It saves the start and stop that Start followed
// by Stop would cost. Cleanup kills it if it was started.
func NewStopped(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		t.Fatalf("motoserver: %s", installHelp)
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("motoserver: %v", err)
	}
	s := &Server{port: port, binary: bin}
	t.Cleanup(s.Close)
	return s
}

// Launch is Start for callers without a testing.TB, such as a TestMain
// that shares one server among a package's tests. The caller must Close it.
func Launch() (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, errors.New(installHelp)
	}
	// A port picked by the kernel and released can be taken by someone else
	// before moto binds it: try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{port: port, binary: bin}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// Endpoint is the server's base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Endpoint() string { return "http://127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the TCP port the server listens on, also while it is stopped.
func (s *Server) Port() int { return s.port }

// Env is the environment that points the AWS SDK's default configuration
// chain at this server: the SSM and DynamoDB endpoints, a region and dummy credentials
// (moto ignores signatures). Use it with t.Setenv or for a subprocess.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_SSM":      s.Endpoint(),
		"AWS_ENDPOINT_URL_DYNAMODB": s.Endpoint(),
		"AWS_REGION":                Region,
		"AWS_ACCESS_KEY_ID":         "testing",
		"AWS_SECRET_ACCESS_KEY":     "testing",
	}
}

// Environ is Env as KEY=VALUE strings, for exec.Cmd.Env.
func (s *Server) Environ() []string {
	var out []string
	for k, v := range s.Env() {
		out = append(out, k+"="+v)
	}
	return out
}

// SetEnv applies Env with t.Setenv, and also makes the SDK ignore any
// shared config or credentials files and profile of the developer's machine.
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Stop kills the server (its whole process group) and waits until it is
// gone; requests then fail with "connection refused". Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart starts a stopped server again on the same port (stopping it first
// if it runs) and waits until it answers. It comes back empty. It also
// starts a server from NewStopped for the first time.
func (s *Server) Restart() error {
	s.Stop()
	// The old socket may linger briefly; moto's server sets SO_REUSEADDR,
	// but retry a few times in case the kernel has not released it yet.
	var err error
	for range 5 {
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// Close stops the server for good. It is what Start's cleanup calls.
func (s *Server) Close() { s.Stop() }

// Reset empties moto's state (every service, every region) without a
// restart, which is much faster than Restart when a test only needs a clean
// slate.
func (s *Server) Reset() error {
	resp, err := http.Post(s.Endpoint()+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: status %s", resp.Status)
	}
	return nil
}

// Output is the tail of the running server's stdout and stderr, for
// diagnosing a failure.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return ""
	}
	return s.proc.output.String()
}

func (s *Server) start() error {
	p := &process{output: &tailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	started := make(chan error, 1)
	// The process is started from a goroutine locked to its OS thread, which
	// lives until the process is reaped: on Linux, Pdeathsig fires when the
	// thread that forked the child exits, so the server dies with the test
	// binary even when the binary is killed (test timeout, Ctrl-C) before
	// any cleanup runs, and not earlier (see proc_linux.go; elsewhere
	// the lock is harmless and only cleanup stops the server).
	go func() {
		runtime.LockOSThread()
		cmd := exec.Command(s.binary, "-H", "127.0.0.1", "-p", strconv.Itoa(s.port))
		cmd.Env = serverEnv()
		cmd.Stdout = p.output
		cmd.Stderr = p.output
		setProcAttr(cmd)
		p.cmd = cmd
		if err := cmd.Start(); err != nil {
			started <- fmt.Errorf("start %s: %w", s.binary, err)
			runtime.UnlockOSThread()
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
		// Returning while locked ends this thread; the child is gone already.
	}()
	if err := <-started; err != nil {
		return err
	}
	if err := s.waitReady(p); err != nil {
		p.kill()
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls until moto answers HTTP, the process exits, or the
// timeout passes.
func (s *Server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint()+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("moto_server exited before answering on port %d (%v); output:\n%s", s.port, p.err, p.output.String())
		case <-ctx.Done():
			return fmt.Errorf("moto_server did not answer on port %d within %s; output:\n%s", s.port, startTimeout, p.output.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *process) kill() {
	if p.cmd.Process != nil {
		killGroup(p.cmd)
	}
	<-p.exited
}

// serverEnv is the test process's environment without AWS_* variables.
// A test may have pointed them at this server or emptied them (SetEnv sets
// AWS_PROFILE=""), and moto's own boto3 fails on an empty profile name, so a
// server restarted inside such a test would answer every call with 500.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it; moto logs every
// request, and a long test should not grow memory without bound.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
