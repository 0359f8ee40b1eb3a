// Package binary builds the proxy's own binary once per test process and
// runs it as a user would, for end-to-end tests: a local server on a free
// port, configured by environment, with its output kept for assertions.
package binary

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

var (
	once    sync.Once
	dir     string
	path    string
	errOnce error
)

// Build builds functions/aiproxy (found from the module root) once per
// process; Cleanup removes it at the end of TestMain.
func Build(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			errOnce = err
			return
		}
		if dir, errOnce = os.MkdirTemp("", "aiproxy-bin"); errOnce != nil {
			return
		}
		path = filepath.Join(dir, "aiproxy")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", path, "./functions/aiproxy")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			errOnce = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if errOnce != nil {
		t.Fatal(errOnce)
	}
	return path
}

// Cleanup removes what Build made.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// FreeAddr is a loopback address nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Process is a running binary.
type Process struct {
	Cmd    *exec.Cmd
	Output *syncbuf.Buffer
	Done   chan error
	// Addr is where it listens, when started by Serve.
	Addr string
}

// Start runs bin with only env (plus PATH and HOME) in its environment,
// interrupted at the end of the test.
func Start(t testing.TB, bin string, env ...string) *Process {
	t.Helper()
	p := &Process{Cmd: exec.Command(bin), Output: &syncbuf.Buffer{}, Done: make(chan error, 1)}
	p.Cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}, env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Output, p.Output
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Done <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.Done:
		case <-time.After(5 * time.Second):
			_ = p.Cmd.Process.Kill()
		}
	})
	return p
}

// NeverLogs fails t, when it ends, if any of secrets (keys the binary was
// configured with) appears in the process's output: a credential must
// never reach a log.
func (p *Process) NeverLogs(t testing.TB, secrets ...string) {
	t.Cleanup(func() {
		out := p.Output.String()
		for i, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %d of %d appears in the binary's output", i+1, len(secrets))
			}
		}
	})
}

// WaitListening waits until addr accepts connections, failing the test
// when the process exits first or 10 s pass.
func (p *Process) WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.Done:
			t.Fatalf("process exited: %v\n%s", err, p.Output)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("not listening on %s:\n%s", addr, p.Output)
}

// Serve writes the config document to a file and starts the local server
// with it on a free port, env added; it returns once the server listens.
func Serve(t testing.TB, config string, env ...string) *Process {
	t.Helper()
	bin := Build(t)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := FreeAddr(t)
	p := Start(t, bin, append([]string{"AIPROXY_CONFIG_FILE=" + file, "AIPROXY_LISTEN=" + addr}, env...)...)
	p.WaitListening(t, addr)
	p.Addr = addr
	return p
}
