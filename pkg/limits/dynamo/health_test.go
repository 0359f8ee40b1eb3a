package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/motoserver"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/health"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/pkg/limits/dynamo"
)

// Two registries (two Lambda instances) on one table: a circuit one opens
// is open in the other after its next refresh, and a close travels too.
func TestCircuitSharedThroughTable(t *testing.T) {
	_, table := newTable(t)
	store := dynamo.NewHealth(motoserver.DynamoDBAt(moto.Endpoint()), table)
	a := health.New(health.Options{Store: store, Refresh: time.Nanosecond})
	b := health.New(health.Options{Store: store, Refresh: time.Nanosecond})
	key := "chat|1:bedrock/claude"
	if !a.Fail(a.Get(key), 1, time.Minute) {
		t.Fatal("max_fails 1: the first failure opens")
	}
	a.Wait()
	b.Sync([]string{key})
	b.Wait()
	if down, until := b.Get(key).Down(time.Now()); !down || time.Until(until) < 50*time.Second {
		t.Fatalf("instance b: down %v until %v", down, until)
	}
	b.Succeed(b.Get(key)) // b tried it as a last resort, and it answered
	b.Wait()
	a.Sync([]string{key})
	a.Wait()
	if down, _ := a.Get(key).Down(time.Now()); down {
		t.Fatal("instance a still skips a target b saw answer")
	}
	states, err := store.Load(context.Background(), []string{key, "absent"})
	if err != nil || len(states) != 1 || !states[key].OpenUntil.IsZero() || states[key].Changed.IsZero() {
		t.Fatalf("states %+v, %v", states, err)
	}
}
