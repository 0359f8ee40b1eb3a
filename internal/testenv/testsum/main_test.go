package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		ok      bool
		last    string
		printed []string
	}{
		{"all pass, subtests counted",
			`{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA/x"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"pass","Package":"p","Elapsed":1.5}`,
			true, "2 passed, 0 failed, 1 skipped", []string{"ok      p (1.5s)"}},
		{"a failure prints its output",
			`{"Action":"start","Package":"p"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:9: boom\n"}
{"Action":"fail","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestB","Output":"quiet\n"}
{"Action":"pass","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"p"}`,
			false, "1 passed, 1 failed (1 packages failed)", []string{"a_test.go:9: boom", "FAIL    p"}},
		{"a build failure is a failure",
			`{"ImportPath":"q","Action":"build-output","Output":"q/x.go:1: syntax error\n"}
{"ImportPath":"q","Action":"build-fail"}
{"Action":"fail","Package":"q"}`,
			false, "0 passed, 0 failed (1 packages failed)", []string{"BUILD FAILED q", "syntax error"}},
		{"non-JSON lines pass through", "# vet: something\n", true, "0 passed, 0 failed", []string{"# vet: something"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			s := &tally{out: &out, running: map[string]int{}, output: map[string]*string{}, build: map[string]*strings.Builder{}}
			if err := s.read(strings.NewReader(tt.in)); err != nil {
				t.Fatal(err)
			}
			if ok := s.summary(); ok != tt.ok {
				t.Errorf("ok = %v", ok)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if got := lines[len(lines)-1]; got != tt.last {
				t.Errorf("last line = %q, want %q\n%s", got, tt.last, out.String())
			}
			for _, p := range tt.printed {
				if !strings.Contains(out.String(), p) {
					t.Errorf("output lacks %q:\n%s", p, out.String())
				}
			}
			if strings.Contains(out.String(), "quiet") {
				t.Errorf("a passing test's output was printed")
			}
		})
	}
}
