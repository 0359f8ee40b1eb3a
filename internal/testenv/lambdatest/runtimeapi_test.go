package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRuntime is a hand-written runtime client: it fetches one invocation
// and answers it with post.
func fakeRuntime(t *testing.T, s *RuntimeAPI, post func(base, id string, payload []byte) error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		base := "http://" + s.Addr() + "/2018-06-01/runtime/"
		resp, err := http.Get(base + "invocation/next")
		if err != nil {
			errc <- err
			return
		}
		payload, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get(HeaderRequestID)
		deadline, err := strconv.ParseInt(resp.Header.Get(HeaderDeadlineMs), 10, 64)
		if err != nil || time.UnixMilli(deadline).Before(time.Now()) {
			errc <- errors.New("bad deadline header " + resp.Header.Get(HeaderDeadlineMs))
			return
		}
		if resp.Header.Get(HeaderFunctionARN) == "" || resp.Header.Get(HeaderTraceID) == "" {
			errc <- errors.New("missing ARN or trace header")
			return
		}
		errc <- post(base, id, payload)
	}()
	return errc
}

func postOK(req *http.Request) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return errors.New("status " + resp.Status)
	}
	return nil
}

// TestStreamedResponseChunksAndTrailers proves that InvokeStream hands each
// piece of a streamed body to its callback as it arrives, by order: the
// runtime writes part i only after the callback saw part i-1. A Runtime API
// that read the whole body first would leave the runtime waiting in vain.
func TestStreamedResponseChunksAndTrailers(t *testing.T) {
	s := NewRuntimeAPI(t)
	seen := make(chan int, 8)
	var stalled atomic.Bool
	errc := fakeRuntime(t, s, func(base, id string, payload []byte) error {
		pr, pw := io.Pipe()
		go func() {
			_, _ = pw.Write([]byte(`{"statusCode":201,"headers":{"Content-Type":"text/plain"}}` + "\x00\x00\x00\x00\x00\x00\x00\x00" + "part0;"))
			for i := 1; i < 4; i++ {
				select {
				case <-seen:
				case <-time.After(10 * time.Second):
					stalled.Store(true)
					pw.Close()
					return
				}
				_, _ = pw.Write([]byte("part" + strconv.Itoa(i) + ";"))
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPost, base+"invocation/"+id+"/response", pr)
		req.Header.Set("Content-Type", StreamingContentType)
		req.Trailer = http.Header{}
		req.Trailer.Set(HeaderErrorType, "StreamAbortedError")
		req.Trailer.Set(HeaderErrorBody, "eyJlcnJvck1lc3NhZ2UiOiJ4In0=") // {"errorMessage":"x"}
		return postOK(req)
	})
	res, err := s.InvokeStream(context.Background(), []byte(`{"hello":1}`), EachMark(";", func(k int) { seen <- k }))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if stalled.Load() {
		t.Error("the runtime waited in vain for a part to reach the callback: the Runtime API buffered the body")
	}
	if res.ContentType != StreamingContentType {
		t.Errorf("content type %q", res.ContentType)
	}
	p, body, err := res.Stream()
	if err != nil || p.StatusCode != 201 || p.Headers["Content-Type"] != "text/plain" || string(body) != "part0;part1;part2;part3;" {
		t.Fatalf("prelude %+v body %q err %v", p, body, err)
	}
	// Each part was written only after the one before had been read.
	if len(res.Chunks) < 4 {
		t.Errorf("%d chunks recorded, want one per part at least: %v", len(res.Chunks), res.Chunks)
	}
	if res.ErrorType() != "StreamAbortedError" || string(res.ErrorBody()) != `{"errorMessage":"x"}` {
		t.Errorf("trailers %v", res.Trailer)
	}
}

func TestBufferedResponseIsOneGroup(t *testing.T) {
	s := NewRuntimeAPI(t)
	errc := fakeRuntime(t, s, func(base, id string, payload []byte) error {
		req, _ := http.NewRequest(http.MethodPost, base+"invocation/"+id+"/response", bytes.NewReader(append([]byte("echo:"), payload...)))
		req.Header.Set("Content-Type", "application/json")
		return postOK(req)
	})
	res, err := s.Invoke(context.Background(), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if string(res.Body()) != `echo:{"a":1}` || ArrivalGroups(res.Chunks, time.Millisecond) != 1 || res.ErrorType() != "" {
		t.Fatalf("body %q chunks %d trailer %v", res.Body(), len(res.Chunks), res.Trailer)
	}
	if _, _, err := res.Stream(); !errors.Is(err, ErrNoPrelude) {
		t.Errorf("Stream of a JSON answer: %v, want ErrNoPrelude", err)
	}
}

func TestInvocationError(t *testing.T) {
	s := NewRuntimeAPI(t)
	errc := fakeRuntime(t, s, func(base, id string, payload []byte) error {
		req, _ := http.NewRequest(http.MethodPost, base+"invocation/"+id+"/error", strings.NewReader(`{"errorMessage":"boom","errorType":"Fail"}`))
		req.Header.Set(HeaderErrorType, "Fail")
		return postOK(req)
	})
	res, err := s.Invoke(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if res.Error == nil || res.Error.Type != "Fail" || !strings.Contains(string(res.Error.Body), "boom") {
		t.Fatalf("error %+v", res.Error)
	}
}

func TestInitErrorEndsInvoke(t *testing.T) {
	s := NewRuntimeAPI(t)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/2018-06-01/runtime/init/error", strings.NewReader(`{"errorMessage":"no config"}`))
	req.Header.Set(HeaderErrorType, "Runtime.Unknown")
	if err := postOK(req); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Invoke(ctx, []byte(`{}`))
	var fe *FunctionError
	if !errors.As(err, &fe) || fe.Type != "Runtime.Unknown" {
		t.Fatalf("Invoke error %v, want the init error", err)
	}
}

func TestUnknownRequestID(t *testing.T) {
	s := NewRuntimeAPI(t)
	resp, err := http.Post("http://"+s.Addr()+"/2018-06-01/runtime/invocation/nope/response", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}

func TestInvokeHonoursContext(t *testing.T) {
	s := NewRuntimeAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Invoke(ctx, []byte(`{}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want DeadlineExceeded (no runtime is polling)", err)
	}
}

func TestSplitPrelude(t *testing.T) {
	nul := "\x00\x00\x00\x00\x00\x00\x00\x00"
	tests := []struct {
		name, raw  string
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{"function url", `{"statusCode":200,"headers":{"a":"b"},"cookies":["c=1"]}` + nul + "data: x\n\n", 200, "data: x\n\n", false},
		{"empty body", `{"statusCode":404}` + nul, 404, "", false},
		{"body with NULs", `{"statusCode":200}` + nul + "a" + nul + "b", 200, "a" + nul + "b", false},
		{"json answer", `{"statusCode":200,"body":"x"}`, 0, "", true},
		{"not json", "hello" + nul, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, body, err := SplitPrelude([]byte(tt.raw))
			if tt.wantErr {
				if !errors.Is(err, ErrNoPrelude) {
					t.Fatalf("err %v, want ErrNoPrelude", err)
				}
				return
			}
			if err != nil || p.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Fatalf("got %+v %q %v", p, body, err)
			}
		})
	}
}

func TestArrivalGroups(t *testing.T) {
	t0 := time.Now()
	at := func(ms ...int) []Chunk {
		var c []Chunk
		for _, m := range ms {
			c = append(c, Chunk{At: t0.Add(time.Duration(m) * time.Millisecond)})
		}
		return c
	}
	for _, tt := range []struct {
		chunks []Chunk
		want   int
	}{
		{nil, 0}, {at(0), 1}, {at(0, 1, 2), 1}, {at(0, 20, 40), 3}, {at(0, 1, 20, 21, 40), 3},
	} {
		if got := ArrivalGroups(tt.chunks, 10*time.Millisecond); got != tt.want {
			t.Errorf("ArrivalGroups(%d chunks) = %d, want %d", len(tt.chunks), got, tt.want)
		}
	}
}

// TestProcessExitEndsInvoke checks that a runtime process that dies (here:
// exits at once) fails Invoke immediately instead of at its deadline.
func TestProcessExitEndsInvoke(t *testing.T) {
	s := NewRuntimeAPI(t)
	s.StartProcess(t, exec.Command("sh", "-c", "exit 3"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Invoke(ctx, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Invoke error %v, want the process's exit", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Invoke took %v", d)
	}
}
