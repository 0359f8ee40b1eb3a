package dynamo_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/testclock"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// The table the tests use is created from template.yaml's own definition,
// so the two cannot drift.
const (
	templatePath = "../../../template.yaml"
	logicalID    = "RateLimitTable"
)

var moto *motoserver.Server

func TestMain(m *testing.M) {
	s, err := motoserver.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	moto = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

var tables atomic.Int64

// newTable creates a fresh table from the template and returns a store on it.
func newTable(t *testing.T) (*dynamo.Store, string) {
	t.Helper()
	name := "limits-" + strconv.FormatInt(tables.Add(1), 10)
	moto.CreateTemplateTable(t, templatePath, logicalID, name)
	return dynamo.New(motoserver.DynamoDBAt(moto.Serialized(t)), name), name
}

func newClock() *testclock.Clock {
	// Near the real time (the items' TTLs stay in the future), but 15 s
	// into a minute and a quarter into an hour, so that no test's window
	// ends by accident: starting from the minute alone, a run at 13:59
	// saw its hour roll over 45 s later.
	return testclock.New(time.Now().UTC().Truncate(time.Hour).Add(time.Hour + 15*time.Minute + 15*time.Second))
}

func tokenPolicy(limit float64, m limits.Metric) *limits.Policy {
	return &limits.Policy{Plugin: limits.PluginAIRateLimiting, ID: "budget", Shared: true, FaultTolerant: true,
		ErrorCode: 429, ErrorMessage: "over", LimitBy: "consumer",
		Rules: []limits.Rule{{Name: "60-openai", Window: limits.SecondsWindow(60), Limit: limit, Metric: m}}}
}

func requestPolicy(perMinute, perHour float64) *limits.Policy {
	m, _ := limits.UnitWindow("minute")
	h, _ := limits.UnitWindow("hour")
	return &limits.Policy{Plugin: limits.PluginRateLimiting, ID: "rl", Shared: true, FaultTolerant: true,
		ErrorCode: 429, ErrorMessage: limits.DefaultRateLimitMessage, LimitBy: "consumer",
		Rules: []limits.Rule{
			{Name: "Minute", Window: m, Limit: perMinute, Metric: limits.Requests},
			{Name: "Hour", Window: h, Limit: perHour, Metric: limits.Requests},
		}}
}

var teamA = limits.Subject{Consumer: "team-a", IP: "192.0.2.1"}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// items lists the table's items: key -> count.
func items(t *testing.T, table string) map[string]float64 {
	t.Helper()
	out, err := moto.DynamoDB().Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, it := range out.Items {
		k := it[dynamo.KeyAttribute].(*types.AttributeValueMemberS).Value
		n, _ := strconv.ParseFloat(it["n"].(*types.AttributeValueMemberN).Value, 64)
		m[k] = n
		if _, ok := it[dynamo.TTLAttribute].(*types.AttributeValueMemberN); !ok {
			t.Errorf("item %s has no %s", k, dynamo.TTLAttribute)
		}
	}
	return m
}

func total(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

func TestTableFromTemplate(t *testing.T) {
	spec, err := motoserver.TemplateTable(templatePath, logicalID)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.KeySchema) != 1 || spec.KeySchema[0].AttributeName != dynamo.KeyAttribute || spec.KeySchema[0].KeyType != "HASH" {
		t.Fatalf("key schema %+v: the store needs %s as the only (HASH) key", spec.KeySchema, dynamo.KeyAttribute)
	}
	if ttl := spec.TimeToLiveSpecification; ttl.AttributeName != dynamo.TTLAttribute || !ttl.Enabled {
		t.Fatalf("TTL %+v: the store writes %s", ttl, dynamo.TTLAttribute)
	}
	if spec.BillingMode != "PAY_PER_REQUEST" {
		t.Fatalf("billing mode %q", spec.BillingMode)
	}
	_, name := newTable(t)
	out, err := moto.DynamoDB().DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil || out.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled ||
		aws.ToString(out.TimeToLiveDescription.AttributeName) != dynamo.TTLAttribute {
		t.Fatalf("TTL in moto: %+v, %v", out, err)
	}
}

// Fifty requests at once against a budget with room for 33 of them: the
// conditional update serves exactly 33 and never lets one through over the
// limit.
func TestConcurrentReservationsAtTheEdge(t *testing.T) {
	store, table := newTable(t)
	l := limits.New(limits.Options{Shared: store, Logger: quiet(), Now: newClock().Now})
	req := limits.Request{Policies: []*limits.Policy{tokenPolicy(1000, limits.TotalTokens)}, Subject: teamA, Worst: limits.Usage{PromptTokens: 10, CompletionTokens: 20}}
	var served, refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			d := l.Reserve(context.Background(), req)
			switch {
			case d.StoreDown:
				t.Error("store reported down")
			case d.Refusal != nil:
				refused.Add(1)
			default:
				served.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if spent := float64(served.Load()) * 30; spent > 1000 {
		t.Fatalf("served %d reservations of 30 in a budget of 1000: %v", served.Load(), spent)
	}
	if served.Load() != 33 || refused.Load() != 17 {
		t.Fatalf("served %d, refused %d; want 33 and 17", served.Load(), refused.Load())
	}
	if got := total(items(t, table)); got != 990 {
		t.Fatalf("table holds %v, want 990", got)
	}
}

func TestSettleToRealUsage(t *testing.T) {
	store, table := newTable(t)
	l := limits.New(limits.Options{Shared: store, Logger: quiet(), Now: newClock().Now})
	req := limits.Request{Policies: []*limits.Policy{tokenPolicy(0.05, limits.Cost)}, Subject: teamA,
		Worst: limits.Usage{PromptTokens: 1000, CompletionTokens: 2000}, Prices: limits.Prices{Input: 5, Output: 15}}
	d := l.Reserve(context.Background(), req)
	if d.Refusal != nil {
		t.Fatalf("refused: %+v", d.Refusal)
	}
	if got := total(items(t, table)); got != 0.035 { // 1000*5/1e6 + 2000*15/1e6
		t.Fatalf("reserved %v, want 0.035", got)
	}
	if err := d.Settle(context.Background(), &limits.Usage{PromptTokens: 120, CompletionTokens: 80}); err != nil {
		t.Fatal(err)
	}
	if got := total(items(t, table)); got != 0.0018 { // 120*5/1e6 + 80*15/1e6
		t.Fatalf("settled to %v, want 0.0018", got)
	}
}

// Two rules on one request: when the hour is spent, the minute's
// reservation is given back.
func TestOneRuleRefusesOthersGivenBack(t *testing.T) {
	store, table := newTable(t)
	l := limits.New(limits.Options{Shared: store, Logger: quiet(), Now: newClock().Now})
	req := limits.Request{Policies: []*limits.Policy{requestPolicy(10, 2)}, Subject: teamA}
	for i := range 3 {
		d := l.Reserve(context.Background(), req)
		if (d.Refusal != nil) != (i == 2) {
			t.Fatalf("request %d: refusal %+v", i, d.Refusal)
		}
		if i == 2 && (d.Refusal.Header.Get("X-RateLimit-Remaining-Hour") != "0" || d.Refusal.Header.Get("Retry-After") == "") {
			t.Fatalf("refusal headers %v", d.Refusal.Header)
		}
	}
	m := items(t, table)
	for k, v := range m {
		if v != 2 {
			t.Fatalf("counter %s = %v, want 2 (the refused request given back)", k, v)
		}
	}
}

func TestWindowsRollOver(t *testing.T) {
	store, table := newTable(t)
	c := newClock()
	l := limits.New(limits.Options{Shared: store, Logger: quiet(), Now: c.Now})
	req := limits.Request{Policies: []*limits.Policy{requestPolicy(2, 100)}, Subject: teamA}
	for i := range 3 {
		if d := l.Reserve(context.Background(), req); (d.Refusal != nil) != (i == 2) {
			t.Fatalf("request %d: refusal %v", i, d.Refusal)
		}
	}
	c.Add(45 * time.Second)
	d := l.Reserve(context.Background(), req)
	if d.Refusal != nil || d.Header.Get("X-RateLimit-Remaining-Minute") != "1" || d.Header.Get("X-RateLimit-Remaining-Hour") != "97" {
		t.Fatalf("next minute: refusal %v, headers %v", d.Refusal, d.Header)
	}
	if n := len(items(t, table)); n != 3 { // two minutes and one hour
		t.Fatalf("%d items, want 3", n)
	}
}

func TestSlidingWindowReadsPreviousOnce(t *testing.T) {
	store, _ := newTable(t)
	c := newClock()
	c.Add(-time.Minute)
	l := limits.New(limits.Options{Shared: store, Logger: quiet(), Now: c.Now})
	p := requestPolicy(10, 1000)
	p.Sliding = true
	req := limits.Request{Policies: []*limits.Policy{p}, Subject: teamA}
	for range 8 {
		if d := l.Reserve(context.Background(), req); d.Refusal != nil {
			t.Fatal("refused in the previous minute")
		}
	}
	c.Add(time.Minute) // 15 s in: 3/4 of the previous minute's 8 still count
	served := 0
	for range 10 {
		if d := l.Reserve(context.Background(), req); d.Refusal == nil {
			served++
		}
	}
	if served != 4 {
		t.Fatalf("served %d, want 4", served)
	}
}

func TestDynamoDBDown(t *testing.T) {
	down := motoserver.NewStopped(t) // a port nothing listens on
	for _, tolerant := range []bool{true, false} {
		t.Run(fmt.Sprintf("fault_tolerant=%v", tolerant), func(t *testing.T) {
			var logs bytes.Buffer
			store := dynamo.New(down.DynamoDB(), "limits")
			l := limits.New(limits.Options{Shared: store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			p := tokenPolicy(1000, limits.TotalTokens)
			p.FaultTolerant = tolerant
			for range 10 {
				d := l.Reserve(context.Background(), limits.Request{Policies: []*limits.Policy{p}, Subject: teamA, Worst: limits.Usage{PromptTokens: 1}})
				if !d.StoreDown {
					t.Fatal("StoreDown not set")
				}
				if tolerant != (d.Refusal == nil) {
					t.Fatalf("refusal %+v", d.Refusal)
				}
				if !tolerant && (d.Refusal.Status != 503 || d.Refusal.Code != limits.CodeStoreUnavailable) {
					t.Fatalf("refusal %+v", d.Refusal)
				}
			}
			if n := strings.Count(logs.String(), "rate-limit store unavailable"); n != 1 {
				t.Fatalf("%d warnings for one outage:\n%s", n, logs.String())
			}
		})
	}
}
