package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// readTimed hands over every line as it arrives, the last one too, and
// reports a failed status with the answer's start.
func TestReadTimed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no such route", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("data: a\n\ndata: b\n\ntail"))
	}))
	defer srv.Close()
	var got []string
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	err := readTimed(srv.Client(), req, func(line []byte, at time.Time, since time.Duration) {
		if at.IsZero() || since < 0 {
			t.Errorf("line %q at %v, %v after the request", line, at, since)
		}
		got = append(got, string(line))
	})
	if err != nil || strings.Join(got, "|") != "data: a\n|\n|data: b\n|\n|tail" {
		t.Fatalf("%v %q", err, got)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/fail", nil)
	if err := readTimed(srv.Client(), req, func([]byte, time.Time, time.Duration) {}); err == nil || !strings.Contains(err.Error(), "stream status 404: no such route") {
		t.Fatalf("%v", err)
	}
}
