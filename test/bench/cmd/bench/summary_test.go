package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's summary is replaced between its markers, and only there.
func TestWriteSummaryReplacesOnlyTheMarkedSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	before := "# x\n\nintro\n" + summaryBegin + "\nold figures\n" + summaryEnd + "\n\n## next\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Results{Date: "2026-12-01T12:00:00Z", Machine: Machine{Commit: "abc1234"}, Pinning: "pinned with taskset: ...",
		Memory: &MemoryPart{Bytes: 241e6, HWMKB: 24000, Flat: true}}
	if err := writeSummary(path, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	if strings.Contains(got, "old figures") || !strings.HasPrefix(got, "# x\n\nintro\n"+summaryBegin+"\n") || !strings.HasSuffix(got, summaryEnd+"\n\n## next\n") {
		t.Errorf("README after the rewrite:\n%s", got)
	}
	if !strings.Contains(got, "commit `abc1234`; each proxy pinned") || !strings.Contains(got, "Peak RSS 25 MB while relaying 241 MB") {
		t.Errorf("summary: %s", got)
	}
	for _, line := range strings.Split(got, "\n") {
		if len([]rune(line)) > 80 && !strings.HasPrefix(line, "<!--") {
			t.Errorf("line longer than 80: %q", line)
		}
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeSummary(path, r); err == nil {
		t.Error("a README without markers was accepted")
	}
}

func TestPinPlanCommand(t *testing.T) {
	on := pinPlan{on: true, taskset: "/usr/bin/taskset", proxyCPU: 1}
	if bin, args := on.command(1, "/bin/proxy", []string{"-a"}); bin != "/usr/bin/taskset" || strings.Join(args, " ") != "-c 1 /bin/proxy -a" {
		t.Errorf("pinned: %s %v", bin, args)
	}
	if bin, args := on.command(-1, "/bin/proxy", []string{"-a"}); bin != "/bin/proxy" || len(args) != 1 {
		t.Errorf("anywhere: %s %v", bin, args)
	}
	if bin, _ := (pinPlan{}).command(1, "/bin/proxy", nil); bin != "/bin/proxy" {
		t.Errorf("pinning off: %s", bin)
	}
	if p := newPinPlan(true, 1); p.on || !strings.Contains(p.note(), "1 core") {
		t.Errorf("one core: %+v", p)
	}
}
