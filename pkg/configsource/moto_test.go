package configsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

// These tests run against moto's real SSM API over HTTP, through the SDK's
// default configuration chain (AWS_ENDPOINT_URL_SSM), as the function does
// in Lambda. Most share one moto process, each under its own parameter
// prefix; the tests that stop and restart SSM get their own.

var (
	sharedOnce sync.Once
	sharedSrv  *motoserver.Server
	sharedErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedSrv != nil {
		sharedSrv.Close()
	}
	os.Exit(code)
}

// sharedMoto starts the package's shared moto on first use and points the
// SDK's environment at it for this test.
func sharedMoto(t *testing.T) *motoserver.Server {
	t.Helper()
	sharedOnce.Do(func() { sharedSrv, sharedErr = motoserver.Launch() })
	if sharedErr != nil {
		t.Fatalf("motoserver: %v", sharedErr)
	}
	sharedSrv.SetEnv(t)
	return sharedSrv
}

// ownMoto starts a moto only this test uses, for stop/restart scenarios.
func ownMoto(t *testing.T) *motoserver.Server {
	t.Helper()
	s := motoserver.Start(t)
	s.SetEnv(t)
	return s
}

// realClient is an SSM client from the default chain with the SDK's
// default retryer, as FromEnv builds it, wrapped to count calls.
func realClient(t *testing.T) (*ssm.Client, *countingClient) {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := ssm.NewFromConfig(cfg)
	return c, &countingClient{SSMAPI: c}
}

// prefix is a parameter path unique to the test.
func prefix(t *testing.T) string {
	return "/" + strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"), "-")
}

// canary is a secret value to look for in every log and error.
func canary(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "sk-canary-" + hex.EncodeToString(b)
}

func putParam(t *testing.T, c *ssm.Client, name, value string, typ ssmtypes.ParameterType) {
	t.Helper()
	_, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: typ, Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func deleteParam(t *testing.T, c *ssm.Client, name string) {
	t.Helper()
	if _, err := c.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// ref is the vault reference for an SSM parameter name.
func ref(name string) string { return "{vault://ssm" + name + "}" }

// fastOpts are options for tests: a short TTL and short backoffs keep the
// package well under 30 s.
func fastOpts(client SSMAPI, param string, logs *logBuffer) SSMOptions {
	return SSMOptions{
		Client: client, Parameter: param, TTL: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), LoadTimeout: 3 * time.Second,
		RetryMin: 100 * time.Millisecond, RetryMax: 400 * time.Millisecond,
		RefreshRetryMax: 400 * time.Millisecond,
	}
}

// failedLoads is the number of loads that did not succeed: GetParameter
// calls minus the loads logged as successful (at debug level too).
func failedLoads(c *countingClient, logs *logBuffer) int {
	get, _ := c.counts()
	out := logs.String()
	return get - strings.Count(out, "msg=\"config loaded\"") - strings.Count(out, "msg=\"config refreshed\"")
}

// eventually polls f until it reports true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMotoFirstLoadDecryptsSecureStrings(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	// The document itself may be a SecureString too.
	putParam(t, c, p+"/config", doc("gpt-4o", ref(p+"/key")), ssmtypes.ParameterTypeSecureString)

	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	if get, gets := counting.counts(); get != 1 || gets != 1 {
		t.Errorf("cold start made %d GetParameter and %d GetParameters calls, want 1 and 1", get, gets)
	}
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if modelOf(cfg) != "gpt-4o" || headerOf(cfg) != "Bearer "+secret {
		t.Fatalf("model %q; header decrypted = %v (kms-prefixed = %v)", modelOf(cfg), headerOf(cfg) == "Bearer "+secret,
			strings.HasPrefix(headerOf(cfg), "Bearer kms:"))
	}
	if !strings.Contains(logs.String(), "config loaded") {
		t.Errorf("no load log line:\n%s", logs.String())
	}
	assertNoSecret(t, secret, logs.String())
}

func TestMotoBatchedReferences(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	var refs []string
	var want strings.Builder
	for i := range 12 {
		name := fmt.Sprintf("%s/k%02d", p, i)
		v := fmt.Sprintf("%s-%02d", secret, i)
		putParam(t, c, name, v, ssmtypes.ParameterTypeSecureString)
		refs = append(refs, ref(name))
		want.WriteString(v)
	}
	putParam(t, c, p+"/config", doc("m", refs...), ssmtypes.ParameterTypeString)

	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if headerOf(cfg) != "Bearer "+want.String() {
		t.Fatal("the 12 references did not resolve to their values in order")
	}
	counting.mu.Lock()
	batches := fmt.Sprint(counting.namesPerGetParametersC)
	counting.mu.Unlock()
	if batches != "[10 2]" {
		t.Errorf("GetParameters batches = %s, want [10 2]", batches)
	}
	assertNoSecret(t, secret, logs.String())
}

// TestMotoChangeVisibleAfterTTL shows a change in SSM served once the TTL
// has passed and not before, on a test clock: the order of events decides,
// not how long moto took to answer on a loaded machine.
func TestMotoChangeVisibleAfterTTL(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("v1", ref(p+"/key")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	opts := fastOpts(counting, p+"/config", &logs)
	clock := newClock()
	src, err := newSSM(context.Background(), opts, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	putParam(t, c, p+"/config", doc("v2", ref(p+"/key")), ssmtypes.ParameterTypeString)
	// Until the TTL passes the cached version is served without a call.
	gets, _ := counting.counts()
	clock.Add(opts.TTL - time.Nanosecond)
	if cfg, err := src.Current(context.Background()); err != nil || modelOf(cfg) != "v1" {
		t.Fatalf("Current before the TTL = %q, %v; want v1", modelOf(cfg), err)
	}
	src.waitIdle()
	if now, _ := counting.counts(); now != gets {
		t.Errorf("%d GetParameter calls before the TTL passed, want none", now-gets)
	}
	clock.Add(time.Nanosecond)
	eventually(t, 10*time.Second, "the new version", func() bool {
		cfg, err := src.Current(context.Background())
		return err == nil && modelOf(cfg) == "v2"
	})
	if !strings.Contains(logs.String(), "config refreshed") {
		t.Errorf("no refresh log line:\n%s", logs.String())
	}
	assertNoSecret(t, secret, logs.String())
}

func TestMotoInvalidDocumentKeepsOld(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("good", ref(p+"/key")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	putParam(t, c, p+"/config", invalidDoc(ref(p+"/key")), ssmtypes.ParameterTypeString)

	eventually(t, 3*time.Second, "a warning", func() bool {
		cfg, err := src.Current(context.Background())
		if err != nil || modelOf(cfg) != "good" {
			t.Fatalf("Current = %q, %v; want the old config", modelOf(cfg), err)
		}
		return logs.count("WARN") > 0
	})
	// Many requests inside the backoff window add no warning.
	for range 200 {
		if _, err := src.Current(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	src.waitIdle()
	if w, f := logs.count("WARN"), failedLoads(counting, &logs); w != f {
		t.Errorf("%d warnings for %d failed refreshes, want one each:\n%s", w, f, logs.String())
	}
	out := logs.String()
	for _, want := range []string{"parameter=" + p + "/config", "temperature", "serving the last good config"} {
		if !strings.Contains(out, want) {
			t.Errorf("warning lacks %q:\n%s", want, out)
		}
	}
	assertNoSecret(t, secret, out)
}

func TestMotoSSMStoppedKeepsServing(t *testing.T) {
	srv := ownMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("kept", ref(p+"/key")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	deadline := time.Now().Add(1200 * time.Millisecond)
	// That no request waits on SSM meanwhile is TestMotoSSMHangingNeverBlocksCurrent's
	// to prove: a refused connection is too quick to tell waiting apart.
	for time.Now().Before(deadline) {
		cfg, err := src.Current(context.Background())
		if err != nil || modelOf(cfg) != "kept" || headerOf(cfg) != "Bearer "+secret {
			t.Fatalf("Current with SSM down = %q, %v; want the last good config", modelOf(cfg), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	src.waitIdle()
	warns, failed := logs.count("WARN"), failedLoads(counting, &logs)
	if warns == 0 || warns != failed {
		t.Errorf("%d warnings for %d failed refreshes, want one each", warns, failed)
	}
	// Backoff (200, 400, 400 ms): 1.2 s at a 200 ms TTL would be 6
	// refreshes without it.
	if failed > 4 {
		t.Errorf("%d refresh attempts in 1.2 s: failures do not back off", failed)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("warning does not give the reason:\n%s", logs.String())
	}
	assertNoSecret(t, secret, logs.String())
}

// TestMotoSSMHangingNeverBlocksCurrent proves that a request never waits on
// SSM while there is a config to serve, by making SSM hang rather than by
// timing Current: after a load from moto, the client's endpoint becomes a
// loopback listener that accepts and never answers. Once a refresh is stuck
// there (the listener accepted it), Current must still return the last good
// config; one that waited would block for the minute-long LoadTimeout, far
// past this test's bound.
func TestMotoSSMHangingNeverBlocksCurrent(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("kept", ref(p+"/key")), ssmtypes.ParameterTypeString)
	hang := &hangingClient{SSMAPI: counting}
	var logs logBuffer
	opts := fastOpts(hang, p+"/config", &logs)
	opts.LoadTimeout = time.Minute
	src, err := NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	accepted := hang.hangFrom(t)
	current := func() {
		t.Helper()
		type answer struct {
			model, header string
			err           error
		}
		got := make(chan answer, 1)
		go func() {
			cfg, err := src.Current(context.Background())
			got <- answer{modelOf(cfg), headerOf(cfg), err}
		}()
		select {
		case a := <-got:
			if a.err != nil || a.model != "kept" || a.header != "Bearer "+secret {
				t.Fatalf("Current with SSM hanging = %q, %v; want the last good config", a.model, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Current blocked with a refresh hanging on SSM: a request waited on SSM")
		}
	}
	// Past the TTL a Current starts the refresh that hangs.
	eventually(t, 10*time.Second, "a refresh to reach the hanging SSM", func() bool {
		current()
		return accepted() > 0
	})
	for range 5 {
		current()
	}
	assertNoSecret(t, secret, logs.String())
}

// hangingClient passes calls to its SSMAPI, pointed (once hangFrom was
// called) at a loopback listener that accepts connections and never
// answers: an SSM endpoint that hangs, not a fake of SSM's API.
type hangingClient struct {
	SSMAPI
	endpoint atomic.Pointer[string]
}

// hangFrom opens the listener and sends later calls to it; accepted counts
// the connections it took.
func (h *hangingClient) hangFrom(t *testing.T) (accepted func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // held open, never read or answered
			mu.Unlock()
			n.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	h.endpoint.Store(aws.String("http://" + ln.Addr().String()))
	return n.Load
}

func (h *hangingClient) opts(o []func(*ssm.Options)) []func(*ssm.Options) {
	if ep := h.endpoint.Load(); ep != nil {
		return append(o, func(opt *ssm.Options) { opt.BaseEndpoint = ep })
	}
	return o
}

func (h *hangingClient) GetParameter(ctx context.Context, in *ssm.GetParameterInput, o ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return h.SSMAPI.GetParameter(ctx, in, h.opts(o)...)
}

func (h *hangingClient) GetParameters(ctx context.Context, in *ssm.GetParametersInput, o ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	return h.SSMAPI.GetParameters(ctx, in, h.opts(o)...)
}

func TestMotoDownAtColdStartRecovers(t *testing.T) {
	srv := motoserver.NewStopped(t) // SSM is down from the start
	srv.SetEnv(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	var logs logBuffer
	opts := fastOpts(counting, p+"/config", &logs)
	// A backoff window wide enough that the calls below surely fall in it.
	opts.RetryMin, opts.RetryMax = 500*time.Millisecond, time.Second
	start := time.Now()
	src, err := NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewSSM with SSM down must still return the source: %v", err)
	}
	t.Logf("cold start with SSM down took %v", time.Since(start))
	_, err = src.Current(context.Background())
	if !errors.Is(err, config.ErrNoConfig) {
		t.Fatalf("Current with SSM down at cold start = %v, want ErrNoConfig", err)
	}
	// Inside the backoff window the error comes back without a call.
	before, _ := counting.counts()
	for range 50 {
		if _, err := src.Current(context.Background()); !errors.Is(err, config.ErrNoConfig) {
			t.Fatalf("Current = %v, want ErrNoConfig", err)
		}
	}
	if after, _ := counting.counts(); after != before {
		t.Errorf("%d SSM calls from 50 requests inside the backoff window", after-before)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("moto output:\n%s", srv.Output())
		}
	})
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("recovered", ref(p+"/key")), ssmtypes.ParameterTypeString)
	var errs []string
	eventually(t, 3*time.Second, "recovery", func() bool {
		cfg, err := src.Current(context.Background())
		if err != nil {
			errs = append(errs, err.Error())
			return false
		}
		return modelOf(cfg) == "recovered"
	})
	if logs.count("ERROR") == 0 || !strings.Contains(logs.String(), "config loaded") {
		t.Errorf("want failed-load errors then a load line:\n%s", logs.String())
	}
	assertNoSecret(t, secret, append(errs, logs.String())...)
}

func TestMotoParameterMissing(t *testing.T) {
	sharedMoto(t)
	_, counting := realClient(t)
	p := prefix(t)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Current(context.Background())
	var nf *ssmtypes.ParameterNotFound
	if !errors.Is(err, config.ErrNoConfig) || !errors.As(err, &nf) || !strings.Contains(err.Error(), p+"/config") {
		t.Fatalf("err = %v, want ErrNoConfig naming the parameter, wrapping ParameterNotFound", err)
	}
	if !strings.Contains(logs.String(), "parameter="+p+"/config") {
		t.Errorf("log does not name the parameter:\n%s", logs.String())
	}
}

func TestMotoParameterDeletedKeepsOld(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("before", ref(p+"/key")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	deleteParam(t, c, p+"/key")
	eventually(t, 3*time.Second, "a warning", func() bool {
		cfg, err := src.Current(context.Background())
		if err != nil || modelOf(cfg) != "before" {
			t.Fatalf("Current = %q, %v; want the old config", modelOf(cfg), err)
		}
		return logs.count("WARN") > 0
	})
	if !strings.Contains(logs.String(), p+"/key") {
		t.Errorf("warning does not name the missing parameter:\n%s", logs.String())
	}
	assertNoSecret(t, secret, logs.String())
}

func TestMotoReferenceMissing(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/present", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("m", ref(p+"/present"), ref(p+"/absent")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Current(context.Background())
	var me *MissingParametersError
	if !errors.Is(err, config.ErrNoConfig) || !errors.As(err, &me) || len(me.Names) != 1 || me.Names[0] != p+"/absent" {
		t.Fatalf("err = %v, want ErrNoConfig naming %s/absent", err, p)
	}
	assertNoSecret(t, secret, err.Error(), logs.String())
}

// TestMotoFromEnv goes through FromEnv as main does: the SDK's default
// chain reaches moto through AWS_ENDPOINT_URL_SSM.
func TestMotoFromEnv(t *testing.T) {
	sharedMoto(t)
	c, _ := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("from-env", ref(p+"/key")), ssmtypes.ParameterTypeString)
	file := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(doc("from-file", ref(p+"/key"))), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, logs := newLogger()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantModel string
		wantDesc  string
		wantErr   string
	}{
		{"ssm parameter", map[string]string{EnvParameter: p + "/config", EnvTTL: "5m"}, "from-env", "SSM parameter " + p + "/config (TTL 5m0s)", ""},
		{"parameter wins over file", map[string]string{EnvParameter: p + "/config", EnvFile: file}, "from-env", "SSM parameter", ""},
		{"file with ssm reference", map[string]string{EnvFile: file}, "from-file", "file " + file, ""},
		{"embedded", map[string]string{}, "embedded", "embedded config", ""},
		{"bad ttl", map[string]string{EnvParameter: p + "/config", EnvTTL: "soon"}, "", "", EnvTTL},
		{"zero ttl", map[string]string{EnvParameter: p + "/config", EnvTTL: "0s"}, "", "", EnvTTL},
		{"missing file", map[string]string{EnvFile: file + ".nope"}, "", "", "read config file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			src, desc, err := FromEnv(context.Background(), getenv, []byte(doc("embedded", "{vault://env/key-var}")), logger)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if tc.name == "embedded" {
				// The embedded document's env reference is unset: an error
				// that must not be confused with success.
				if err == nil || !strings.Contains(err.Error(), "KEY_VAR is not set") {
					t.Fatalf("err = %v, want KEY_VAR is not set", err)
				}
				tc.env["KEY_VAR"] = secret
				src, desc, err = FromEnv(context.Background(), getenv, []byte(doc("embedded", "{vault://env/key-var}")), logger)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(desc, tc.wantDesc) {
				t.Errorf("description %q, want %q", desc, tc.wantDesc)
			}
			cfg, err := src.Current(context.Background())
			if err != nil || modelOf(cfg) != tc.wantModel || headerOf(cfg) != "Bearer "+secret {
				t.Fatalf("Current = %q, %v", modelOf(cfg), err)
			}
		})
	}
	assertNoSecret(t, secret, logs.String())
}

// TestMotoVersionSelector reads a pinned version next to the latest one.
func TestMotoVersionSelector(t *testing.T) {
	sharedMoto(t)
	c, _ := realClient(t)
	p := prefix(t)
	putParam(t, c, p+"/k", "first", ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/k", "second", ssmtypes.ParameterTypeSecureString)
	r := &SSMResolver{Client: c}
	pinned, latest := "{vault://ssm"+p+"/k:1}", ref(p+"/k")
	got, err := r.ResolveSecrets(context.Background(), []string{pinned, latest})
	if err != nil || got[pinned] != "first" || got[latest] != "second" {
		t.Fatalf("= %v, %v; want first for :1 and second for the latest", got, err)
	}
}

// keyAuthDoc is a decK file behind key-auth with two consumers whose keys
// are the given references.
func keyAuthDoc(upstream, keyA, keyB string) string {
	return fmt.Sprintf(`_format_version: "3.0"
routes:
  - name: chat
    paths: ["~/chat/completions$"]
plugins:
  - name: key-auth
  - name: ai-proxy
    config:
      route_type: llm/v1/chat
      auth: {header_name: Authorization, header_value: "Bearer %s"}
      model: {provider: openai, name: gpt-4o}
consumers:
  - username: team-a
    keyauth_credentials: [{key: "%s"}]
  - username: team-b
    keyauth_credentials: [{key: "%s"}]
`, upstream, keyA, keyB)
}

// consumerOf is who key identifies on the config's first route, or "".
func consumerOf(t *testing.T, src config.Source, key string) string {
	t.Helper()
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	name, _ := cfg.Routes[0].KeyAuth.Identify(key)
	return name
}

// TestMotoDeletedClientKeyIsRevoked: deleting a consumer's key parameter
// revokes that key within a TTL, the rest of the config keeps serving,
// and overwriting a key parameter rotates it.
func TestMotoDeletedClientKeyIsRevoked(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, upstream, keyA, keyB := prefix(t), canary(t), canary(t), canary(t)
	putParam(t, c, p+"/key", upstream, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/clients/a", keyA, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/clients/b", keyB, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", keyAuthDoc(ref(p+"/key"), ref(p+"/clients/a"), ref(p+"/clients/b")), ssmtypes.ParameterTypeString)
	var logs logBuffer
	src, err := NewSSM(context.Background(), fastOpts(counting, p+"/config", &logs))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := consumerOf(t, src, keyA), consumerOf(t, src, keyB); a != "team-a" || b != "team-b" {
		t.Fatalf("keys identify %q and %q", a, b)
	}

	deleteParam(t, c, p+"/clients/a")
	eventually(t, 3*time.Second, "the deleted key to be refused", func() bool { return consumerOf(t, src, keyA) == "" })
	cfg, _ := src.Current(context.Background())
	if consumerOf(t, src, keyB) != "team-b" || headerOf(cfg) != "Bearer "+upstream {
		t.Fatal("the rest of the config stopped serving")
	}
	// The load that revokes swaps the config in, then logs: the line may
	// trail the first request that sees the key refused.
	eventually(t, 3*time.Second, "a log line naming the revoked key parameter", func() bool {
		return strings.Contains(logs.String(), p+"/clients/a") && strings.Contains(logs.String(), "revoked")
	})

	newB := canary(t)
	putParam(t, c, p+"/clients/b", newB, ssmtypes.ParameterTypeSecureString)
	eventually(t, 3*time.Second, "the overwritten key to take over", func() bool {
		return consumerOf(t, src, newB) == "team-b" && consumerOf(t, src, keyB) == ""
	})
	assertNoSecret(t, upstream, logs.String())
	assertNoSecret(t, keyA, logs.String())
	assertNoSecret(t, newB, logs.String())
}
