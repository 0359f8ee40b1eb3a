// Command testsum reads `go test -json` on standard input and prints what a
// person watching `make test` needs: each package as it finishes, what is
// still running during long phases, the full output of every failed test,
// and one last line "N passed, N failed" (N skipped when any). It exits 1
// when anything failed, including a package that did not build.
//
// Usage: go test -json ./... | go run ./internal/testenv/testsum [-every 15s]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Elapsed    float64
	Output     string
}

// tally accumulates results; its methods are called from the reader and
// the progress ticker, hence the lock.
type tally struct {
	mu                     sync.Mutex
	out                    io.Writer
	passed, failed, skiped int
	badPkgs                int
	running                map[string]int     // package -> tests finished so far
	output                 map[string]*string // package/test -> output, kept until the test ends
	build                  map[string]*strings.Builder
}

func main() {
	every := flag.Duration("every", 15*time.Second, "how often to list the packages still running")
	flag.Parse()
	t := &tally{out: os.Stdout, running: map[string]int{}, output: map[string]*string{}, build: map[string]*strings.Builder{}}
	stop := make(chan struct{})
	go t.progress(*every, stop)
	err := t.read(os.Stdin)
	close(stop)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if !t.summary() {
		os.Exit(1)
	}
}

// read consumes the event stream; lines that are not JSON (go vet or
// linker messages on stdout) are passed through.
func (t *tally) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			t.mu.Lock()
			fmt.Fprintln(t.out, sc.Text())
			t.mu.Unlock()
			continue
		}
		t.handle(e)
	}
	return sc.Err()
}

func (t *tally) handle(e event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Action {
	case "build-output":
		b := t.build[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			t.build[e.ImportPath] = b
		}
		b.WriteString(e.Output)
	case "build-fail":
		// The package's own "fail" event follows and is counted there.
		fmt.Fprintf(t.out, "BUILD FAILED %s\n%s", e.ImportPath, t.build[e.ImportPath])
	case "start":
		t.running[e.Package] = 0
	case "run":
	case "output":
		key := e.Package + "\x00" + e.Test
		s := t.output[key]
		if s == nil {
			s = new(string)
			t.output[key] = s
		}
		*s += e.Output
	case "pass", "fail", "skip":
		t.finish(e)
	}
}

// finish records a test's or a package's end.
func (t *tally) finish(e event) {
	key := e.Package + "\x00" + e.Test
	out := t.output[key]
	delete(t.output, key)
	if e.Test == "" { // the package
		delete(t.running, e.Package)
		switch {
		case e.Action == "fail":
			t.badPkgs++
			fmt.Fprintf(t.out, "FAIL    %s (%.1fs)\n", e.Package, e.Elapsed)
			if out != nil && !strings.Contains(*out, "--- FAIL") {
				fmt.Fprint(t.out, *out) // a panic, a timeout or a TestMain failure
			}
		case e.Action == "pass":
			fmt.Fprintf(t.out, "ok      %s (%.1fs)\n", e.Package, e.Elapsed)
		}
		return
	}
	t.running[e.Package]++
	switch e.Action {
	case "pass":
		t.passed++
	case "skip":
		t.skiped++
	case "fail":
		t.failed++
		if out != nil {
			fmt.Fprint(t.out, *out)
		}
	}
}

// progress lists, every interval, the packages still running and how many
// of their tests have finished, so a long integration phase shows life.
func (t *tally) progress(every time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			t.mu.Lock()
			var names []string
			for p, n := range t.running {
				names = append(names, fmt.Sprintf("%s (%d done)", p, n))
			}
			sort.Strings(names)
			if len(names) > 0 {
				fmt.Fprintf(t.out, "  ... running: %s; so far %d passed, %d failed\n", strings.Join(names, ", "), t.passed, t.failed)
			}
			t.mu.Unlock()
		}
	}
}

// summary prints the last line and reports whether everything passed.
func (t *tally) summary() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	line := fmt.Sprintf("%d passed, %d failed", t.passed, t.failed)
	if t.skiped > 0 {
		line += fmt.Sprintf(", %d skipped", t.skiped)
	}
	if t.badPkgs > 0 {
		line += fmt.Sprintf(" (%d packages failed)", t.badPkgs)
	}
	fmt.Fprintln(t.out, line)
	return t.failed == 0 && t.badPkgs == 0
}
