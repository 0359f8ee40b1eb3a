package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/syncbuf"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    kind
	}{
		{"function url", `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.us-east-1.on.aws","http":{"method":"POST"}}}`, kindFunctionURL},
		{"http api 2.0", `{"version":"2.0","requestContext":{"domainName":"x.execute-api.us-east-1.amazonaws.com","http":{"method":"POST"}}}`, kindHTTPAPI},
		{"http api 1.0", `{"version":"1.0","resource":"/x","httpMethod":"POST","requestContext":{}}`, kindHTTPAPIv1},
		{"rest", `{"resource":"/{model}/chat/completions","httpMethod":"POST","requestContext":{"stage":"v1"}}`, kindREST},
		{"rest without resource", `{"httpMethod":"GET","requestContext":{"stage":"v1"}}`, kindREST},
		{"alb", `{"httpMethod":"GET","path":"/","requestContext":{"elb":{"targetGroupArn":"arn"}}}`, 0},
		{"sqs", `{"Records":[]}`, 0},
		{"2.0 without method", `{"version":"2.0","requestContext":{}}`, 0},
		{"array", `[]`, 0},
		{"string", `"hello"`, 0},
		{"garbage", `{`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := decodeEvent([]byte(tt.payload))
			if tt.want == 0 {
				if !errors.Is(err, ErrUnsupportedEvent) {
					t.Fatalf("detect = %v, %v; want ErrUnsupportedEvent", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("detect = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestDecodeEventAgreesWithDetect holds the one-type decoder to the
// reference (referenceDecode: a probe of the classifying fields, then the
// source's own aws-lambda-go type): every event gets the reference's kind
// (or fails where it fails), and the source's type, filled from the one
// type, equals what that type decodes itself.
func TestDecodeEventAgreesWithDetect(t *testing.T) {
	url := `"requestContext":{"domainName":"x.lambda-url.us-east-1.on.aws","http":{"method":"POST","path":"/p","sourceIp":"203.0.113.7"},"timeEpoch":1}`
	payloads := map[string]string{
		"function url":               `{"version":"2.0","rawPath":"/p","headers":{"a":"b"},"cookies":["c=d"],"body":"{\"x\":1}",` + url + `}`,
		"http api 2.0":               `{"version":"2.0","requestContext":{"domainName":"x.execute-api.us-east-1.amazonaws.com","http":{"method":"POST"}}}`,
		"rest":                       `{"resource":"/x","httpMethod":"POST","requestContext":{"stage":"v1"}}`,
		"domain only in the body":    `{"version":"2.0","body":"x.lambda-url.y","requestContext":{"domainName":"x.execute-api.y","http":{"method":"POST"}}}`,
		"alb with a lambda-url name": `{"version":"2.0","httpMethod":"GET",` + strings.Replace(url, `"timeEpoch"`, `"elb":{"targetGroupArn":"a"},"timeEpoch"`, 1) + `}`,
		"no method":                  `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.y","http":{}}}`,
		"null request context":       `{"version":"2.0","requestContext":null}`,
		"null authorizer":            `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.y","http":{"method":"POST"},"authorizer":null}}`,
		"url iam authorizer":         `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.y","http":{"method":"POST"},"authorizer":{"iam":{"userArn":"arn:u"}}}}`,
		"http api jwt authorizer":    `{"version":"2.0","requestContext":{"domainName":"x.execute-api.y","http":{"method":"POST"},"authorizer":{"jwt":{"claims":{"sub":"u"}}}}}`,
		"rest lambda authorizer":     `{"resource":"/x","httpMethod":"POST","requestContext":{"authorizer":{"principalId":"u","n":1}}}`,
		"wrong type in the context":  `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.y","http":{"method":"POST"},"timeEpoch":"soon"}}`,
		"REST authorizer shape":      `{"version":"2.0","requestContext":{"domainName":"x.lambda-url.y","http":{"method":"POST"},"authorizer":{"iam":"x"}}}`,
		"http api 1.0":               `{"version":"1.0","resource":"/x","httpMethod":"POST","requestContext":{}}`,
		"rest without resource":      `{"httpMethod":"GET","requestContext":{"stage":"v1"}}`,
		"rest without context":       `{"resource":"/x","httpMethod":"GET"}`,
		"sqs":                        `{"Records":[]}`,
		"alb":                        `{"httpMethod":"GET","path":"/","requestContext":{"elb":{"targetGroupArn":"arn"}}}`,
		"not an object":              `[]`,
		"string":                     `"hello"`,
		"null":                       `null`,
		"garbage":                    `{`,
	}
	for name, p := range payloads {
		t.Run(name, func(t *testing.T) { checkAgreesWithReference(t, []byte(p)) })
	}
	// Every field of every source's type, each with a value of its own.
	for _, src := range []kind{kindFunctionURL, kindHTTPAPI, kindHTTPAPIv1, kindREST} {
		t.Run("every field of "+src.String(), func(t *testing.T) {
			raw := fullEvent(t, src)
			if k, _, _ := decodeEvent(raw); k != src {
				t.Fatalf("kind %v, want %v", k, src)
			}
			checkAgreesWithReference(t, raw)
		})
	}
	// The repository's sample events (TestSampleEvents runs them through
	// the handler).
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkAgreesWithReference(t, raw)
		})
	}
}

// TestRuntimeHandlerServesEverySource runs each source's event through the
// handler Start registers, as aws-lambda-go calls it (lambda.NewHandler: the
// library decodes the payload into the handler's event type), and checks
// that the handler sees the same request as through Invoke.
func TestRuntimeHandlerServesEverySource(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var viaInvoke, viaRuntime seen
			res, err := New(recordingHandler(&viaInvoke), m.opts).Invoke(context.Background(), m.event(t))
			if err != nil {
				t.Fatal(err)
			}
			decode(t, res)
			rh := lambda.NewHandler(New(recordingHandler(&viaRuntime), m.opts).runtimeHandler())
			out, err := rh.Invoke(context.Background(), m.event(t))
			if err != nil {
				t.Fatalf("runtime handler: %v", err)
			}
			if !strings.Contains(string(out), "204") {
				t.Errorf("answer %q, want the handler's 204", out)
			}
			// A REST query is rebuilt from a map, in no fixed order.
			if q, want := mustParseQuery(t, viaRuntime.rawQuery), mustParseQuery(t, viaInvoke.rawQuery); !reflect.DeepEqual(q, want) {
				t.Errorf("query %v, through Invoke %v", q, want)
			}
			viaInvoke.ctx, viaRuntime.ctx, viaInvoke.rawQuery, viaRuntime.rawQuery = nil, nil, "", ""
			if !reflect.DeepEqual(viaRuntime, viaInvoke) {
				t.Errorf("through the runtime handler the handler saw\n%+v\nthrough Invoke\n%+v", viaRuntime, viaInvoke)
			}
		})
	}
	// An event of another source, or a JSON null (which the library
	// decodes into a nil event), fails as unsupported there, not as a
	// panic that would end the runtime.
	rh := lambda.NewHandler(New(http.NotFoundHandler(), Options{}).runtimeHandler())
	for _, p := range []string{`{"Records":[]}`, `null`, `{"requestContext":null}`} {
		if _, err := rh.Invoke(context.Background(), []byte(p)); !errors.Is(err, ErrUnsupportedEvent) {
			t.Errorf("%s: err = %v, want ErrUnsupportedEvent", p, err)
		}
	}
}

func TestInvokeUnsupportedEvent(t *testing.T) {
	e := New(http.NotFoundHandler(), Options{})
	if _, err := e.Invoke(context.Background(), json.RawMessage(`{"Records":[]}`)); !errors.Is(err, ErrUnsupportedEvent) {
		t.Fatalf("err = %v, want ErrUnsupportedEvent", err)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{
		{"", false}, {"BUFFERED", false}, {"buffered", false}, {"STREAM", true}, {"stream", true},
		{" RESPONSE_STREAM ", true}, {"bogus", false},
	} {
		got := OptionsFromEnv(func(k string) string {
			if k == RESTResponseModeEnv {
				return tt.value
			}
			return ""
		})
		if got.RESTStreaming != tt.want {
			t.Errorf("%s=%q: RESTStreaming = %v, want %v", RESTResponseModeEnv, tt.value, got.RESTStreaming, tt.want)
		}
	}
}

// TestRequestConversion checks that method, path, query, headers (repeated
// ones included), cookies, base64 bodies, client address and path
// parameters reach the handler from every event source.
func TestRequestConversion(t *testing.T) {
	commaHeader := []string{"v1,v2"} // Lambda joined them; kept whole
	splitHeader := []string{"v1", "v2"}
	tests := []struct {
		name       string
		opts       Options
		event      func(t *testing.T) []byte
		wantType   any
		wantPath   string
		wantHost   string
		wantMulti  []string
		wantParams map[string]string
	}{
		{"function url", Options{}, functionURLEvent, &events.LambdaFunctionURLStreamingResponse{},
			"/gpt-4o-mini/chat/completions", "abcdef.lambda-url.us-east-1.on.aws", commaHeader, nil},
		{"rest stream", Options{RESTStreaming: true}, restEvent, &events.APIGatewayProxyStreamingResponse{},
			"/gpt-4o-mini/chat/completions", "restid.execute-api.us-east-1.amazonaws.com", splitHeader, map[string]string{"model": "gpt-4o-mini"}},
		{"rest buffered", Options{}, restEvent, events.APIGatewayProxyResponse{},
			"/gpt-4o-mini/chat/completions", "restid.execute-api.us-east-1.amazonaws.com", splitHeader, map[string]string{"model": "gpt-4o-mini"}},
		{"http api named stage", Options{RESTStreaming: true}, httpAPIEvent, events.APIGatewayV2HTTPResponse{},
			"/gpt-4o-mini/chat/completions", "httpid.execute-api.us-east-1.amazonaws.com", splitHeader, map[string]string{"model": "gpt-4o-mini"}},
		{"http api default stage", Options{}, func(t *testing.T) []byte {
			return httpAPIEventStage(t, "$default", "/gpt-4o-mini/chat/completions")
		}, events.APIGatewayV2HTTPResponse{},
			"/gpt-4o-mini/chat/completions", "httpid.execute-api.us-east-1.amazonaws.com", splitHeader, map[string]string{"model": "gpt-4o-mini"}},
		{"http api custom domain keeps path", Options{}, func(t *testing.T) []byte {
			return httpAPIEventStage(t, "prod", "/gpt-4o-mini/chat/completions")
		}, events.APIGatewayV2HTTPResponse{},
			"/gpt-4o-mini/chat/completions", "httpid.execute-api.us-east-1.amazonaws.com", splitHeader, map[string]string{"model": "gpt-4o-mini"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got seen
			res, err := New(recordingHandler(&got), tt.opts).Invoke(context.Background(), tt.event(t))
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if a.typ != reflect.TypeOf(tt.wantType) {
				t.Fatalf("answer type %v, want %T", a.typ, tt.wantType)
			}
			if a.status != http.StatusNoContent || a.readErr != nil {
				t.Fatalf("answer %d (read error %v), want 204", a.status, a.readErr)
			}
			if got.method != "POST" || got.path != tt.wantPath {
				t.Errorf("request %s %s, want POST %s", got.method, got.path, tt.wantPath)
			}
			if got.host != tt.wantHost {
				t.Errorf("host %q, want %q", got.host, tt.wantHost)
			}
			if got.body != chatBody {
				t.Errorf("body %q, want the decoded base64 body", got.body)
			}
			if got.remoteAddr != "203.0.113.7" {
				t.Errorf("remote addr %q", got.remoteAddr)
			}
			q := got.rawQuery
			if vals := mustParseQuery(t, q); !slices.Equal(vals["a"], []string{"1", "2"}) || vals.Get("b") != "x y" {
				t.Errorf("query %q, want a=1&a=2&b=x y", q)
			}
			if v := got.header.Values("X-Multi"); !slices.Equal(v, tt.wantMulti) {
				t.Errorf("X-Multi %q, want %q", v, tt.wantMulti)
			}
			if got.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", got.header.Get("Content-Type"))
			}
			if got.cookies["c1"] != "v1" || got.cookies["c2"] != "v2" || len(got.cookies) != 2 {
				t.Errorf("cookies %v, want c1=v1 c2=v2", got.cookies)
			}
			if !reflect.DeepEqual(got.params, tt.wantParams) {
				t.Errorf("path params %v, want %v", got.params, tt.wantParams)
			}
		})
	}
}

// TestResponseConversion checks status, repeated headers, cookies and body
// in every response form.
func TestResponseConversion(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Add("Set-Cookie", "s1=1; Path=/")
		w.Header().Add("Set-Cookie", "s2=2; Path=/")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Late", "ignored") // after WriteHeader: not sent
		_, _ = io.WriteString(w, "hello ")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		_, _ = io.WriteString(w, "world")
	})
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res, err := New(h, m.opts).Invoke(context.Background(), m.event(t))
			if err != nil {
				t.Fatal(err)
			}
			a := decode(t, res)
			if a.status != http.StatusCreated || a.body != "hello world" || a.readErr != nil {
				t.Fatalf("answer %d %q (read error %v), want 201 \"hello world\"", a.status, a.body, a.readErr)
			}
			if ct := a.header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			multi := strings.Join(a.header.Values("X-Multi"), ",")
			if strings.ReplaceAll(multi, " ", "") != "a,b" {
				t.Errorf("X-Multi %q, want a and b", multi)
			}
			if a.header.Get("X-Late") != "" {
				t.Errorf("header set after WriteHeader was sent")
			}
			if !slices.Equal(a.cookies, []string{"s1=1; Path=/", "s2=2; Path=/"}) {
				t.Errorf("cookies %q", a.cookies)
			}
		})
	}
}

// TestFailures checks the contract with the core handler for a panic
// before the header, an abort (panic(http.ErrAbortHandler)) mid-stream, any
// other panic mid-stream, and a handler that writes nothing.
func TestFailures(t *testing.T) {
	const partial = "data: {\"n\":1}\n\n"
	const sseErr = "data: {\"error\":{\"message\":\"upstream failed\"}}\n\n"
	startStream := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, partial)
		_ = http.NewResponseController(w).Flush()
	}
	handlers := map[string]http.HandlerFunc{
		"panic before header": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			panic("boom")
		},
		"abort before header": func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
		"abort mid-stream": func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			_, _ = io.WriteString(w, sseErr)
			panic(http.ErrAbortHandler)
		},
		"panic mid-stream": func(w http.ResponseWriter, r *http.Request) {
			startStream(w)
			panic(fmt.Errorf("nil map somewhere"))
		},
		"writes nothing": func(w http.ResponseWriter, r *http.Request) {},
		"invalid status": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(0) },
	}
	type want struct {
		status int
		body   string
		ctJSON bool // Content-Type application/json
		abort  bool // streamed body read fails with a StreamAbortedError
	}
	internal500 := want{status: 500, body: internalErrorJSON, ctJSON: true}
	tests := []struct {
		handler             string
		streaming, buffered want
	}{
		{"panic before header", internal500, internal500},
		{"abort before header", internal500, internal500},
		{"abort mid-stream", want{status: 200, body: partial + sseErr, abort: true}, want{status: 200, body: partial + sseErr}},
		{"panic mid-stream", want{status: 200, body: partial + "data: " + internalErrorJSON + "\n\n", abort: true}, internal500},
		{"writes nothing", want{status: 200}, want{status: 200}},
		{"invalid status", internal500, internal500},
	}
	for _, tt := range tests {
		for _, m := range modes {
			t.Run(tt.handler+"/"+m.name, func(t *testing.T) {
				logs := &syncbuf.Buffer{}
				opts := m.opts
				opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
				res, err := New(handlers[tt.handler], opts).Invoke(context.Background(), m.event(t))
				if err != nil {
					t.Fatal(err)
				}
				w := tt.buffered
				if m.streaming {
					w = tt.streaming
				}
				a := decode(t, res)
				if a.status != w.status || a.body != w.body {
					t.Errorf("answer %d %q, want %d %q", a.status, a.body, w.status, w.body)
				}
				if w.ctJSON && a.header.Get("Content-Type") != "application/json" {
					t.Errorf("Content-Type %q, want application/json", a.header.Get("Content-Type"))
				}
				var sae *StreamAbortedError
				switch {
				case w.abort && !errors.As(a.readErr, &sae):
					t.Errorf("read error %v, want a StreamAbortedError", a.readErr)
				case w.abort && tt.handler == "abort mid-stream" && !errors.Is(a.readErr, http.ErrAbortHandler):
					t.Errorf("read error %v does not wrap http.ErrAbortHandler", a.readErr)
				case !w.abort && a.readErr != nil:
					t.Errorf("read error %v, want a clean end", a.readErr)
				}
				if (strings.HasPrefix(tt.handler, "panic") || tt.handler == "invalid status") && !strings.Contains(logs.String(), "handler panic") {
					t.Errorf("panic not logged: %s", logs.String())
				}
				if strings.Contains(logs.String(), "Say hello") {
					t.Errorf("log contains the request body: %s", logs.String())
				}
			})
		}
	}
}

// TestStreamIsIncremental proves a flushed write is readable before the
// handler goes on, i.e. nothing is buffered between handler and Lambda.
func TestStreamIsIncremental(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "first;")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-release
		_, _ = io.WriteString(w, "second;")
	})
	for _, m := range modes {
		if !m.streaming {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			res, err := New(h, m.opts).Invoke(context.Background(), m.event(t))
			if err != nil {
				t.Fatal(err)
			}
			r := res.(io.ReadCloser)
			defer r.Close()
			buf := make([]byte, 4096)
			var got string
			for !strings.HasSuffix(got, "first;") {
				n, err := r.Read(buf)
				if err != nil {
					t.Fatalf("read before release: %v (got %q)", err, got)
				}
				got += string(buf[:n])
			}
			release <- struct{}{}
			rest, err := io.ReadAll(r)
			if err != nil || string(rest) != "second;" {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}

// TestStreamOpensBeforeHeader checks that Invoke hands the stream to
// aws-lambda-go before the handler has answered, so the response to the
// Runtime API is set up while the upstream is still thinking, and that the
// first Read then waits for the header.
func TestStreamOpensBeforeHeader(t *testing.T) {
	for _, m := range modes {
		if !m.streaming {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				<-release
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, "data: 1\n\n")
			})
			invoked := make(chan any, 1)
			go func() {
				res, err := New(h, m.opts).Invoke(context.Background(), m.event(t))
				if err != nil {
					t.Error(err)
				}
				invoked <- res
			}()
			var res any
			select {
			case res = <-invoked:
			case <-time.After(10 * time.Second):
				close(release)
				t.Fatal("Invoke waited for the handler's header")
			}
			read := make(chan answer, 1)
			go func() { read <- decode(t, res) }()
			select {
			case a := <-read:
				t.Fatalf("read an answer (%d %q) before the handler wrote one", a.status, a.body)
			default:
			}
			close(release)
			if a := <-read; a.status != http.StatusOK || a.body != "data: 1\n\n" || a.header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("answer %d %q %v", a.status, a.body, a.header)
			}
		})
	}
}

// TestCancelReachesHandler checks that the invoke's context is the
// request's: cancelling it cancels the handler's work, streamed or not.
func TestCancelReachesHandler(t *testing.T) {
	for _, m := range modes {
		for _, headerFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/header-first=%v", m.name, headerFirst), func(t *testing.T) {
				cancelled := make(chan error, 1)
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if headerFirst {
						w.Header().Set("Content-Type", "text/event-stream")
						_ = http.NewResponseController(w).Flush()
					}
					select {
					case <-r.Context().Done():
						cancelled <- r.Context().Err()
					case <-time.After(5 * time.Second):
						cancelled <- errors.New("not cancelled")
					}
				})
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				res, err := New(h, m.opts).Invoke(ctx, m.event(t))
				switch {
				case err != nil:
					t.Fatal(err)
				case m.streaming && !headerFirst:
					// Cancelled before the handler answered: the stream
					// fails. (The handler may also win the race by
					// returning first: then a 200.)
					r := res.(io.ReadCloser)
					if _, err := io.ReadAll(r); err != nil && !errors.Is(err, context.Canceled) {
						t.Fatalf("stream read error %v, want context.Canceled", err)
					}
					_ = r.Close()
				default:
					decode(t, res)
				}
				if err := <-cancelled; !errors.Is(err, context.Canceled) {
					t.Fatalf("handler saw %v, want context.Canceled", err)
				}
			})
		}
	}
}

// TestClosedBodyReleasesHandler checks that when Lambda stops reading (it
// closes the response), a handler still writing gets an error and its
// context is cancelled instead of blocking forever.
func TestClosedBodyReleasesHandler(t *testing.T) {
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
				done <- r.Context().Err()
				return
			}
		}
	})
	res, err := New(h, Options{}).Invoke(context.Background(), functionURLEvent(t))
	if err != nil {
		t.Fatal(err)
	}
	r := res.(io.ReadCloser)
	buf := make([]byte, 64)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context %v, want cancelled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler still blocked after the body was closed")
	}
}

func TestStripStage(t *testing.T) {
	for _, tt := range []struct{ stage, path, want string }{
		{"$default", "/prod/x", "/prod/x"},
		{"", "/prod/x", "/prod/x"},
		{"prod", "/prod/gpt-4o-mini/chat/completions", "/gpt-4o-mini/chat/completions"},
		{"prod", "/prod", "/"},
		{"prod", "/production/x", "/production/x"},
		{"prod", "/gpt-4o-mini/chat/completions", "/gpt-4o-mini/chat/completions"},
	} {
		var ev events.APIGatewayV2HTTPRequest
		ev.RequestContext.Stage, ev.RawPath, ev.RequestContext.HTTP.Path = tt.stage, tt.path, tt.path
		stripStage(&ev)
		if ev.RawPath != tt.want || ev.RequestContext.HTTP.Path != tt.want {
			t.Errorf("stage %q path %q: got %q/%q, want %q", tt.stage, tt.path, ev.RawPath, ev.RequestContext.HTTP.Path, tt.want)
		}
	}
}

// TestFunctionURLHeaderNamesFold checks that header names differing only
// in case (possible in a hand-made event; Lambda lower-cases them) keep
// every value under the canonical name, and that each value stays its own.
func TestFunctionURLHeaderNamesFold(t *testing.T) {
	ev := &events.LambdaFunctionURLRequest{
		RawPath: "/x",
		Headers: map[string]string{"x-dup": "a", "X-Dup": "b", "x-one": "1", "x-two": "2"},
		RequestContext: events.LambdaFunctionURLRequestContext{
			DomainName: "d.lambda-url.us-east-1.on.aws",
			HTTP:       events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST"},
		},
	}
	r, err := functionURLRequest(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(r.Header.Values("X-Dup")))
	if !slices.Equal(got, []string{"a", "b"}) || r.Header.Get("X-One") != "1" || r.Header.Get("X-Two") != "2" {
		t.Fatalf("headers %v", r.Header)
	}
	r.Header["X-One"] = append(r.Header["X-One"], "appended")
	if r.Header.Get("X-Two") != "2" {
		t.Fatalf("appending to one header changed another: %v", r.Header)
	}
}
