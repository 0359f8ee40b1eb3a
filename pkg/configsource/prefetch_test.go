package configsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/config"
)

func TestParsePrefetch(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "[]"},
		{"/a/key", "[/a/key]"},
		{" /a/key, /b/key ,,/a/key\n/c", "[/a/key /b/key /c]"},
		{"/a/key:3,/b", "[/b]"}, // a selector is read on its own
		{"/1,/2,/3,/4,/5,/6,/7,/8,/9,/10,/11", "[/1 /2 /3 /4 /5 /6 /7 /8 /9]"},
	}
	for _, tt := range tests {
		if got := fmt.Sprint(ParsePrefetch(tt.in)); got != tt.want {
			t.Errorf("ParsePrefetch(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// With the prefetch list the template knows, a cold start reads the
// document and its references in one GetParameters call.
func TestMotoPrefetchOneCall(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/team-a", secret+"-team-a", ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("gpt-4o", ref(p+"/key"), ref(p+"/team-a")), ssmtypes.ParameterTypeSecureString)

	var logs logBuffer
	opts := fastOpts(counting, p+"/config", &logs)
	opts.Prefetch = []string{p + "/key", p + "/team-a"}
	src, err := NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if get, gets := counting.counts(); get != 0 || gets != 1 {
		t.Errorf("cold start made %d GetParameter and %d GetParameters calls, want 0 and 1", get, gets)
	}
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if headerOf(cfg) != "Bearer "+secret+secret+"-team-a" {
		t.Errorf("references not resolved from the prefetched values")
	}
	if strings.Contains(logs.String(), "prefetch list differs") {
		t.Errorf("a matching list reported as different:\n%s", logs.String())
	}
	assertNoSecret(t, secret, logs.String())
}

// The list is a hint checked against the document: a name the document
// does not reference is never used, one it references but the list lacks
// is read by a second call, and the operator is told, by name only.
func TestMotoPrefetchListOutOfDate(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/key", secret, ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/other", "sk-other-not-referenced", ssmtypes.ParameterTypeSecureString)
	putParam(t, c, p+"/config", doc("gpt-4o", ref(p+"/key")), ssmtypes.ParameterTypeString)

	var logs logBuffer
	opts := fastOpts(counting, p+"/config", &logs)
	opts.Prefetch = []string{p + "/other", p + "/gone"}
	src, err := NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := src.Current(context.Background())
	if err != nil {
		t.Fatalf("an out-of-date list broke the load: %v", err)
	}
	if headerOf(cfg) != "Bearer "+secret {
		t.Errorf("the document's own reference was not resolved")
	}
	if get, gets := counting.counts(); get != 0 || gets != 2 {
		t.Errorf("%d GetParameter and %d GetParameters calls, want 0 and 2", get, gets)
	}
	out := logs.String()
	if !strings.Contains(out, "referenced_not_prefetched="+p+"/key") || !strings.Contains(out, "prefetched_not_referenced="+p+"/other,"+p+"/gone") {
		t.Errorf("the difference is not reported by name:\n%s", out)
	}
	assertNoSecret(t, secret, out)
	assertNoSecret(t, "sk-other-not-referenced", out)
}

// A referenced parameter that is gone fails the load exactly as without
// the list (so revocation keeps working), and so does a missing document.
func TestMotoPrefetchMissing(t *testing.T) {
	sharedMoto(t)
	c, counting := realClient(t)
	p, secret := prefix(t), canary(t)
	putParam(t, c, p+"/config", doc("gpt-4o", ref(p+"/key")), ssmtypes.ParameterTypeString)

	var logs logBuffer
	opts := fastOpts(counting, p+"/config", &logs)
	opts.Prefetch = []string{p + "/key"}
	src, err := NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Current(context.Background())
	var missing *MissingParametersError
	if !errors.Is(err, config.ErrNoConfig) || !errors.As(err, &missing) || fmt.Sprint(missing.Names) != "["+p+"/key]" {
		t.Errorf("a missing referenced parameter: %v", err)
	}

	opts = fastOpts(counting, p+"/no-such-config", &logs)
	opts.Prefetch = []string{p + "/key"}
	src, err = NewSSM(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Current(context.Background()); !errors.Is(err, config.ErrNoConfig) || !strings.Contains(err.Error(), "no-such-config") {
		t.Errorf("a missing document: %v", err)
	}
	assertNoSecret(t, secret, logs.String())
}
