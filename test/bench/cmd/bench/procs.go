package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports; reading it would need
// sysconf(3) and so cgo.
const clockTicks = 100

// helpers are the binaries the driver builds for itself.
type helpers struct {
	stub, bare string
	// bootstrap is functions/aiproxy built as SAM builds it but for this
	// machine's architecture, to run under the emulator and the test
	// Runtime API.
	bootstrap    string
	bootstrapErr error // the bootstrap did not build
}

// buildHelpers builds the bench's own programs and the host-architecture
// bootstrap. The proxy binary itself comes from `make build`, which the
// Makefile target runs first; it is built here only if missing.
func buildHelpers(ctx context.Context, s *settings, work string) (*helpers, error) {
	h := &helpers{
		stub:      filepath.Join(work, "stubserver"),
		bare:      filepath.Join(work, "bareproxy"),
		bootstrap: filepath.Join(work, "bootstrap"),
	}
	builds := [][]string{
		{"-trimpath", "-o", h.stub, "./test/bench/cmd/stubserver"},
		{"-trimpath", "-o", h.bare, "./test/bench/cmd/bareproxy"},
	}
	if _, err := os.Stat(s.aiproxy); err != nil {
		builds = append(builds, []string{"-trimpath", "-o", s.aiproxy, "./functions/aiproxy"})
	}
	for _, args := range builds {
		if err := goBuild(ctx, s.root, nil, args...); err != nil {
			return nil, err
		}
	}
	// The Lambda rows can be pending without sinking the whole run.
	if err := goBuild(ctx, s.root, nil, "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", h.bootstrap, "./functions/aiproxy"); err != nil {
		h.bootstrapErr = err
	}
	return h, nil
}

// goBuild runs go build in the repository with CGO off, as every build of
// the project is done.
func goBuild(ctx context.Context, root string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// proc is one process the driver started and will stop.
type proc struct {
	name string
	cpu  int // the core it is pinned to when pinning is on (-1: any)
	cmd  *exec.Cmd
	addr string // host:port it serves on, if any
	log  string // file holding its output
	done chan struct{}
	err  error
}

// startProc starts bin with args and env (added to a minimal environment),
// its output going to a log file in work, on cpu when pinning is on (-1:
// anywhere).
func startProc(name, work string, cpu int, bin string, args, env []string) (*proc, error) {
	logPath := filepath.Join(work, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	path, argv := pins.command(cpu, bin, args)
	cmd := exec.Command(path, argv...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + work}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cpu: cpu, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after a grace
// period, and waits for the process.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	signalGroup(p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		signalGroup(p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// output is the tail of the process's log, for error messages.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitListening waits until addr accepts TCP connections or the process
// dies.
func (p *proc) waitListening(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			p.addr = addr
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before listening on %s (%v):\n%s", p.name, addr, p.err, p.output())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s did not listen on %s within %s:\n%s", p.name, addr, limit, p.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freeAddr picks a free loopback port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTime is the user+system CPU time a process has used so far, from
// /proc/<pid>/stat (10 ms resolution; the driver sums thousands of
// requests per figure).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// The command name may hold spaces: fields count from after its ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15), so index 11, 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("stat of %d: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// statusKB reads a "Vm..." line of /proc/<pid>/status, in kB.
func statusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read status of %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("status of %d: %s: %w", pid, key, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("status of %d: no %s", pid, key)
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}
