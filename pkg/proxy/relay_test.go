package proxy

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// pieces is an upstream body delivered in the given reads, then err.
type pieces struct {
	parts []string
	err   error
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.parts) == 0 {
		return 0, p.err
	}
	n := copy(b, p.parts[0])
	p.parts[0] = p.parts[0][n:]
	if p.parts[0] == "" {
		p.parts = p.parts[1:]
	}
	return n, nil
}
func (p *pieces) Close() error { return nil }

const (
	chunk1    = `data: {"id":"1","model":"gpt-4o-2024","choices":[{"delta":{"content":"Hi"}}],"usage":null}` + "\n\n"
	chunk2    = `data: {"id":"1","model":"gpt-4o-2024","choices":[{"delta":{"content":"!"}}],"usage":null}` + "\n\n"
	usageOnly = `data: {"id":"1","model":"gpt-4o-2024","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}` + "\n\n"
	done      = "data: [DONE]\n\n"
)

func TestSSERelay(t *testing.T) {
	tests := []struct {
		name      string
		parts     []string
		err       error
		hideUsage bool
		want      string
		usage     int
		failed    bool
	}{
		{name: "passes events through", parts: []string{chunk1, chunk2, usageOnly, done}, err: io.EOF,
			want: chunk1 + chunk2 + usageOnly + done, usage: 5},
		{name: "events split across reads", parts: []string{chunk1[:10], chunk1[10:] + chunk2[:3], chunk2[3:], done}, err: io.EOF,
			want: chunk1 + chunk2 + done},
		{name: "hides injected usage", parts: []string{chunk1, chunk2, usageOnly, done}, err: io.EOF, hideUsage: true,
			want: strings.ReplaceAll(chunk1+chunk2, `,"usage":null}`, "}") + done, usage: 5},
		{name: "CRLF events", parts: []string{"data: {\"a\":1}\r\n\r\n", "data: [DONE]\r\n\r\n"}, err: io.EOF,
			want: "data: {\"a\":1}\r\n\r\ndata: [DONE]\r\n\r\n"},
		{name: "cut mid-stream ends with an error event", parts: []string{chunk1, chunk2[:20]}, err: io.ErrUnexpectedEOF,
			want: chunk1 + chunk2[:20] + "\n\n" + "data: " + string(errorJSON("upstream stream failed before completion", typeServer, "", "upstream_stream_error")) + "\n\n", failed: true},
		{name: "not SSE at all passes through", parts: []string{strings.Repeat("x", maxPendingEvent+10)}, err: io.EOF,
			want: strings.Repeat("x", maxPendingEvent+10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &outcome{}
			r := newSSERelay(context.Background(), &pieces{parts: append([]string(nil), tt.parts...), err: tt.err}, ex, tt.hideUsage)
			got, err := io.ReadAll(iotest.OneByteReader(r))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if tt.usage != 0 && (ex.usage == nil || ex.usage.TotalTokens != tt.usage) {
				t.Errorf("usage = %+v, want total %d", ex.usage, tt.usage)
			}
			if (ex.streamErr != nil) != tt.failed {
				t.Errorf("streamErr = %v", ex.streamErr)
			}
		})
	}
}

// An event must be handed on as soon as its blank line arrives, without
// waiting for more upstream data.
func TestSSERelayDoesNotWaitForMore(t *testing.T) {
	pr, pw := io.Pipe()
	r := newSSERelay(context.Background(), pr, &outcome{}, false)
	go func() { _, _ = pw.Write([]byte(chunk1)) }() // and then nothing more
	buf := make([]byte, 1024)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != chunk1 {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	pw.CloseWithError(errors.New("bye"))
}

func TestSSERelayClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ex := &outcome{}
	r := newSSERelay(ctx, &pieces{parts: []string{chunk1}, err: context.Canceled}, ex, false)
	_, err := io.ReadAll(r)
	if !errors.Is(err, context.Canceled) || ex.streamErr != nil {
		t.Errorf("err = %v, streamErr = %v: a client that left is not an upstream failure", err, ex.streamErr)
	}
}

func TestEventEnd(t *testing.T) {
	tests := []struct {
		in        string
		end, next int
	}{
		{"data: x\n\n", 7, 9},
		{"data: x\r\r", 7, 9},
		{"data: x\r\n\r\n", 7, 11},
		{"data: x\n\r\n", 7, 10},
		{"data: x\r\n\n", 7, 10},
		{"data: x\r\r\n", 7, 10},
		{"a\rdata: x\r\rmore", 9, 11},
		{"a\r\nb\nc\r\r", 6, 8},
		{"data: x\n\r", 7, 9}, // a CR ending the buffer ends the blank line at once
		{"data: x\r\n\r", 7, 10},
		{"data: x\r\n", -1, -1},
		{"data: x\r", -1, -1}, // CR or CRLF: cannot tell yet
		{"data: x\n", -1, -1},
		{"data: x", -1, -1},
		{"\n\n", 0, 2},
	}
	for _, tt := range tests {
		end, next := eventEnd([]byte(tt.in))
		if end != tt.end || next != tt.next {
			t.Errorf("eventEnd(%q) = %d, %d; want %d, %d", tt.in, end, next, tt.end, tt.next)
		}
	}
}

// Every line ending the SSE specification allows ends an event, and the
// event leaves as soon as its blank line arrives.
func TestSSERelayLineEndings(t *testing.T) {
	for name, eol := range map[string]string{"LF": "\n", "CRLF": "\r\n", "CR": "\r"} {
		t.Run(name, func(t *testing.T) {
			ev := `data: {"model":"m","choices":[],"usage":{"total_tokens":7}}` + eol + eol
			pr, pw := io.Pipe()
			out := &outcome{}
			r := newSSERelay(context.Background(), pr, out, true)
			go func() { _, _ = pw.Write([]byte(chunk1[:len(chunk1)-2] + eol + eol + ev)) }() // and then nothing more
			// Not a timing threshold: a relay that waits for more data fails
			// here instead of hanging the test binary.
			watchdog := time.AfterFunc(30*time.Second, func() { pw.CloseWithError(errors.New("relay waited for more data")) })
			defer watchdog.Stop()
			buf := make([]byte, 1024)
			n, err := r.Read(buf)
			want := chunk1[:len(chunk1)-2-len(`,"usage":null}`)] + "}" + eol + eol
			if err != nil || string(buf[:n]) != want {
				t.Fatalf("Read = %q, %v; want %q", buf[:n], err, want)
			}
			pw.CloseWithError(io.EOF)
			rest, _ := io.ReadAll(r)
			if len(rest) != 0 {
				t.Errorf("usage-only chunk not hidden: %q", rest)
			}
			if out.usage == nil || out.usage.TotalTokens != 7 || out.responseModel != "m" {
				t.Errorf("usage %+v model %q", out.usage, out.responseModel)
			}
		})
	}
}

func TestEventData(t *testing.T) {
	tests := []struct{ ev, want string }{
		{"data: x", "x"},
		{"event: e\ndata: a\ndata: b", "a\nb"},
		{"event: e\rdata: a\rdata:b", "a\nb"},
		{"event: e\r\ndata: a\r\ndata: b", "a\nb"},
		{": comment", ""},
	}
	for _, tt := range tests {
		if got := eventData([]byte(tt.ev)); string(got) != tt.want {
			t.Errorf("eventData(%q) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                 true,
		"TEXT/Event-Stream; charset=utf-8":  true,
		"text/event-stream ; charset=utf-8": true,
		"text/event-streamx":                false,
		"text/event-stream-json":            false,
		"application/json":                  false,
		"":                                  false,
		"text/event-stream; ===":            true, // as ReverseProxy reads it
	} {
		if got := isEventStream(ct); got != want {
			t.Errorf("isEventStream(%q) = %v, want %v", ct, got, want)
		}
	}
}
