package integration

import (
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
)

// exitOutput waits for p to exit and returns its output; a process still
// running after 10 s fails the test.
func exitOutput(t *testing.T, p *binary.Process) (string, error) {
	t.Helper()
	select {
	case err := <-p.Done:
		return p.Output.String(), err
	case <-time.After(10 * time.Second):
		t.Fatalf("still running:\n%s", p.Output)
		return "", nil
	}
}

// What a newcomer meets in the first minutes of `make run`: a missing key,
// a taken port, a misspelt log level, and where to point the SDK.
func TestFirstHourLocalServer(t *testing.T) {
	bin := binary.Build(t)

	t.Run("no key says what to do", func(t *testing.T) {
		out, err := exitOutput(t, binary.Start(t, bin, "AIPROXY_LISTEN="+binary.FreeAddr(t)))
		if err == nil || !strings.Contains(out, "export OPENAI_API_KEY=") || !strings.Contains(out, "make demo") {
			t.Errorf("exit %v, output:\n%s", err, out)
		}
	})

	t.Run("bad log level is an error", func(t *testing.T) {
		out, err := exitOutput(t, binary.Start(t, bin, "AIPROXY_LISTEN="+binary.FreeAddr(t), "OPENAI_API_KEY=k", "AIPROXY_LOG_LEVEL=verbose"))
		if err == nil || !strings.Contains(out, `AIPROXY_LOG_LEVEL="verbose"`) {
			t.Errorf("exit %v, output:\n%s", err, out)
		}
	})

	t.Run("taken port never logs listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out, err := exitOutput(t, binary.Start(t, bin, "AIPROXY_LISTEN="+l.Addr().String(), "OPENAI_API_KEY=k"))
		if err == nil || strings.Contains(out, `"msg":"listening"`) || !strings.Contains(out, "AIPROXY_LISTEN") {
			t.Errorf("exit %v, output:\n%s", err, out)
		}
	})

	t.Run("listening prints the base_url", func(t *testing.T) {
		addr := binary.FreeAddr(t)
		p := binary.Start(t, bin, "AIPROXY_LISTEN="+addr, "OPENAI_API_KEY=k", "AIPROXY_LOG_LEVEL=WARN")
		p.WaitListening(t, addr)
		// The listening line comes after the bind, so it may trail the
		// first successful dial by a moment: wait for it, bounded.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.Output.String(), "base_url: http://"+addr+"/<model>") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if out := p.Output.String(); !strings.Contains(out, "base_url: http://"+addr+"/<model>") {
			t.Errorf("no base_url line:\n%s", out)
		}
		res, err := http.Get("http://" + addr + "/gpt-4o-mini/chat/completions")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET on the chat route = %d", res.StatusCode)
		}
	})
}

// `make` alone explains itself: one line per target, nothing built or run.
func TestMakeAlonePrintsTargets(t *testing.T) {
	cmd := exec.Command("make", "--no-print-directory")
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	for _, target := range []string{"help", "run", "demo", "test", "invoke", "put-config", "put-key", "put-client-key", "bench"} {
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == target {
				n++
			}
		}
		if n != 1 {
			t.Errorf("target %s listed %d times:\n%s", target, n, out)
		}
	}
	if strings.Contains(string(out), "go build") || strings.Contains(string(out), "listening") {
		t.Errorf("make alone built or ran something:\n%s", out)
	}
}
