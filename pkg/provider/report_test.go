package provider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// What drivers report reaches the request's Report, once each; without a
// Report (the byte-for-byte path) reporting does nothing.
func TestReport(t *testing.T) {
	tests := []struct {
		name      string
		report    bool
		values    [][]string // one ReportCredential call each
		estimate  bool
		want      []string
		estimated bool
	}{
		{name: "no report", values: [][]string{{"Bearer t1"}}, estimate: true},
		{name: "one token", report: true, values: [][]string{{"Bearer t1"}}, want: []string{"Bearer t1"}},
		{name: "empty values dropped", report: true, values: [][]string{{"", "sig-1", ""}}, want: []string{"sig-1"}},
		{name: "a cached token reported by each call, kept once", report: true, values: [][]string{{"Bearer t1"}, {"Bearer t1"}, {"Bearer t2"}}, want: []string{"Bearer t1", "Bearer t2"}},
		{name: "estimated usage", report: true, estimate: true, estimated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var r *Report
			if tt.report {
				r = &Report{}
				ctx = WithReport(ctx, r)
			}
			for _, v := range tt.values {
				ReportCredential(ctx, v...)
			}
			if tt.estimate {
				ReportEstimatedUsage(ctx)
			}
			if got := r.Credentials(); !slices.Equal(got, tt.want) {
				t.Errorf("credentials %q, want %q", got, tt.want)
			}
			if r.UsageEstimated() != tt.estimated {
				t.Errorf("estimated %v, want %v", r.UsageEstimated(), tt.estimated)
			}
		})
	}
}

// Parallel calls of one request (Gemini's embeddings) report into one
// Report.
func TestReportConcurrent(t *testing.T) {
	r := &Report{}
	ctx := WithReport(context.Background(), r)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ReportCredential(ctx, "Bearer shared")
			ReportEstimatedUsage(ctx)
			_ = r.Credentials()
		}()
	}
	wg.Wait()
	if got := r.Credentials(); len(got) != 1 || !r.UsageEstimated() {
		t.Errorf("credentials %q, estimated %v", got, r.UsageEstimated())
	}
}

type failingEvents struct{ err error }

func (f failingEvents) Next() ([]byte, error) { return nil, f.err }
func (f failingEvents) Close() error          { return nil }

// The error that ends a translated stream is the provider's own words,
// relayed to the client: the request's credentials are blanked in it,
// the cause kept.
func TestStreamErrorRedacted(t *testing.T) {
	cause := errors.New("read: connection reset")
	tests := []struct {
		name     string
		err      error
		report   []string
		wantMsg  string
		wantCode string
	}{
		{name: "token in the message", err: &StreamError{Message: "bad token ya29.minted-0123", Code: "UNAUTHENTICATED", Cause: cause},
			report: []string{"Bearer ya29.minted-0123"}, wantMsg: "bad token [REDACTED]", wantCode: "UNAUTHENTICATED"},
		{name: "whole header echoed", err: &StreamError{Message: "Authorization: Bearer ya29.minted-0123"},
			report: []string{"Bearer ya29.minted-0123"}, wantMsg: "Authorization: [REDACTED]"},
		{name: "in the code", err: &StreamError{Message: "m", Code: "k-ya29.minted-0123"},
			report: []string{"Bearer ya29.minted-0123"}, wantMsg: "m", wantCode: "k-[REDACTED]"},
		{name: "nothing to blank", err: &StreamError{Message: "quota", Code: "RESOURCE_EXHAUSTED"},
			report: []string{"Bearer ya29.minted-0123"}, wantMsg: "quota", wantCode: "RESOURCE_EXHAUSTED"},
		{name: "no report", err: &StreamError{Message: "bad token ya29.minted-0123"}, wantMsg: "bad token ya29.minted-0123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.report != nil {
				r := &Report{}
				r.AddCredentials(tt.report...)
				ctx = WithReport(ctx, r)
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://up.example/", nil)
			res := StreamResponse(req, failingEvents{tt.err})
			_, err := io.ReadAll(res.Body)
			var se *StreamError
			if !errors.As(err, &se) || se.Message != tt.wantMsg || se.Code != tt.wantCode {
				t.Fatalf("stream ended with %v (%+v), want message %q code %q", err, se, tt.wantMsg, tt.wantCode)
			}
			if orig := tt.err.(*StreamError); orig.Cause != nil && !errors.Is(err, orig.Cause) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
	// io.EOF is a clean end, not an error to redact.
	r := &Report{}
	r.AddCredentials("x-0123")
	req, _ := http.NewRequestWithContext(WithReport(context.Background(), r), http.MethodPost, "http://up.example/", nil)
	if b, err := io.ReadAll(StreamResponse(req, failingEvents{io.EOF}).Body); err != nil || len(b) != 0 {
		t.Errorf("clean end: %q %v", b, err)
	}
}
