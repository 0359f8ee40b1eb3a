package stubcore

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Every stub leans on Await's three outcomes: a Step releases the stream,
// a client that went away ends it counted in Cancelled, a wait that ran
// out ends it counted in Stalled.
func TestAwait(t *testing.T) {
	var l Lockstep // the zero value, as in a composite literal
	l.Step()
	if !l.Await(context.Background(), time.Second) {
		t.Fatal("a Step did not release the stream")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if l.Await(ctx, time.Second) || l.Cancelled() != 1 || l.Stalled() != 0 {
		t.Fatalf("cancelled: cancelled %d, stalled %d", l.Cancelled(), l.Stalled())
	}
	if l.Await(context.Background(), 10*time.Millisecond) || l.Stalled() != 1 || l.Cancelled() != 1 {
		t.Fatalf("stalled: cancelled %d, stalled %d", l.Cancelled(), l.Stalled())
	}
	l.CountCancel()
	if l.Cancelled() != 2 {
		t.Fatalf("CountCancel: cancelled %d", l.Cancelled())
	}
	l.Step()
	l.Step()
	l.ResetLockstep()
	if l.Cancelled() != 0 || l.Stalled() != 0 {
		t.Fatalf("after ResetLockstep: cancelled %d, stalled %d", l.Cancelled(), l.Stalled())
	}
	if l.Await(context.Background(), 10*time.Millisecond) {
		t.Fatal("after ResetLockstep a drained Step released a stream")
	}
}

func TestLogAndQueue(t *testing.T) {
	var lg Log[int]
	if lg.Last() != 0 || len(lg.Requests()) != 0 {
		t.Fatal("an empty log is not empty")
	}
	lg.Add(1)
	lg.Add(2)
	if r := lg.Requests(); len(r) != 2 || lg.Last() != 2 {
		t.Fatalf("log %v, last %d", r, lg.Last())
	}
	lg.ForgetRequests()
	if len(lg.Requests()) != 0 {
		t.Fatal("ForgetRequests kept requests")
	}
	var q Queue[string]
	q.Next("a", "b")
	if sc, ok := q.Take(); !ok || sc != "a" {
		t.Fatalf("took %q %v", sc, ok)
	}
	q.ForgetQueued()
	if sc, ok := q.Take(); ok {
		t.Fatalf("took %q after ForgetQueued", sc)
	}
}

func TestListen(t *testing.T) {
	url, stop, err := Listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stop()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("still serving after stop")
	}
}
