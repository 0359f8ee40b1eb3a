package lambdatest

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

// StartProcess starts cmd as a Lambda runtime for s: it appends
// AWS_LAMBDA_RUNTIME_API and the usual function variables to cmd.Env
// (os.Environ() when cmd.Env is nil). Its output is collected unless
// cmd.Stdout is set. If the process exits on its own,
// pending and later Invokes fail at once. The process is killed when the
// test ends, and its output is logged if the test failed.
func (s *RuntimeAPI) StartProcess(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env,
		"AWS_LAMBDA_RUNTIME_API="+s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=lambdatest",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_REGION=us-east-1",
	)
	// A caller's own Stdout (a file, to see what the process has written
	// at a given moment without a copying goroutine in between) is kept.
	out := &syncbuf.Buffer{}
	if cmd.Stdout == nil {
		cmd.Stdout = out
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("lambdatest: start runtime process %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	stopping := make(chan struct{})
	go func() {
		err := cmd.Wait()
		select {
		case <-stopping: // killed by the cleanup below
		default:
			s.runtimeExited(err)
		}
		close(exited)
	}()
	t.Cleanup(func() {
		close(stopping)
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			t.Logf("runtime process output:\n%s", out.String())
		}
	})
}
