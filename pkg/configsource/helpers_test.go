package configsource

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/testclock"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// logBuffer captures a source's slog output for scanning.
type logBuffer struct{ syncbuf.Buffer }

// count is the number of log lines at a level ("WARN", "ERROR", "INFO").
func (b *logBuffer) count(level string) int {
	return strings.Count(b.String(), "level="+level+" ")
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// doc is a bare plugin config whose model name tells versions apart and
// whose auth header carries the given references.
func doc(model string, refs ...string) string {
	return fmt.Sprintf(`{"route_type":"llm/v1/chat",
 "auth":{"header_name":"Authorization","header_value":"Bearer %s"},
 "model":{"provider":"openai","name":%q}}`, strings.Join(refs, ""), model)
}

// invalidDoc parses as a document but fails validation (temperature is
// out of range), while still resolving its references.
func invalidDoc(refs ...string) string {
	return fmt.Sprintf(`{"route_type":"llm/v1/chat",
 "auth":{"header_name":"Authorization","header_value":"Bearer %s"},
 "model":{"provider":"openai","name":"bad","options":{"temperature":99}}}`, strings.Join(refs, ""))
}

func modelOf(cfg *config.Config) string {
	if cfg == nil || len(cfg.Routes) == 0 || cfg.Routes[0].Plugin == nil {
		return "<none>"
	}
	return cfg.Routes[0].Plugin.Model.Name.Raw
}

func headerOf(cfg *config.Config) string {
	return cfg.Routes[0].Plugin.Auth.HeaderValue
}

// waitIdle waits until no load is in flight.
func (s *SSMSource) waitIdle() {
	s.mu.Lock()
	f := s.flight
	s.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// countingClient counts the calls that reach a real client.
type countingClient struct {
	SSMAPI
	mu                     sync.Mutex
	getCalls, getsCalls    int
	namesPerGetParametersC []int
}

func (c *countingClient) GetParameter(ctx context.Context, in *ssm.GetParameterInput, o ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	c.mu.Lock()
	c.getCalls++
	c.mu.Unlock()
	return c.SSMAPI.GetParameter(ctx, in, o...)
}

func (c *countingClient) GetParameters(ctx context.Context, in *ssm.GetParametersInput, o ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	c.mu.Lock()
	c.getsCalls++
	c.namesPerGetParametersC = append(c.namesPerGetParametersC, len(in.Names))
	c.mu.Unlock()
	return c.SSMAPI.GetParameters(ctx, in, o...)
}

func (c *countingClient) counts() (get, gets int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getCalls, c.getsCalls
}

// fakeSSM is an in-memory SSM for the state-machine unit tests. Behaviour
// that matters against the real API is tested against moto instead.
type fakeSSM struct {
	mu        sync.Mutex
	params    map[string]string
	versions  map[string]int64
	getErr    error         // returned by GetParameter when set
	gate      chan struct{} // when set, GetParameter blocks until it is closed
	getCalls  int
	getsCalls int
}

func newFake() *fakeSSM {
	return &fakeSSM{params: map[string]string{}, versions: map[string]int64{}}
}

func (f *fakeSSM) put(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.params[name] = value
	f.versions[name]++
}

func (f *fakeSSM) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getErr = err
}

func (f *fakeSSM) setGate(g chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = g
}

func (f *fakeSSM) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.getCalls
}

func (f *fakeSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	f.getCalls++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return nil, f.getErr
	}
	name := aws.ToString(in.Name)
	v, ok := f.params[name]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Value: aws.String(v), Version: f.versions[name]}}, nil
}

func (f *fakeSSM) GetParameters(_ context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.getsCalls++
	if len(in.Names) > MaxNamesPerCall {
		return nil, fmt.Errorf("ValidationException: %d names", len(in.Names))
	}
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := f.params[n]; ok {
			out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: aws.String(n), Value: aws.String(v)})
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

// assertNoSecret fails if any of the texts contains the secret.
func assertNoSecret(t *testing.T, secret string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("secret value leaked into output:\n%s", s)
		}
	}
}
