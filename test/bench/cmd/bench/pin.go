package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// CPU pinning, the default mode of parts 1 and 2: every proxy runs on one
// core (proxyCPU) and everything that makes or answers the load (vegeta,
// the stub, the driver's own stream clients) on the other (loadCPU). A
// proxy's CPU per request and peak throughput then are those of one core
// it has to itself, the fair way to compare per-core cost: unpinned, the
// load generator and the stub steal the proxy's core at random and a
// multi-threaded proxy borrows the second core for free. Each Go proxy
// sees GOMAXPROCS=1 and nginx runs one worker. With fewer than two cores,
// or without taskset, nothing is pinned and the report says so.
type pinPlan struct {
	on                bool
	proxyCPU, loadCPU int
	taskset           string
	why               string // why pinning is off
}

func newPinPlan(want bool, cores int) pinPlan {
	p := pinPlan{proxyCPU: 1, loadCPU: 0}
	switch {
	case !want:
		p.why = "-pin=false"
	case runtime.GOOS != "linux":
		p.why = "not Linux (pinning uses taskset and sched_setaffinity)"
	case cores < 2:
		p.why = fmt.Sprintf("%d core", cores)
	default:
		ts, err := exec.LookPath("taskset")
		if err != nil {
			p.why = "taskset not found (util-linux)"
			break
		}
		p.on, p.taskset = true, ts
	}
	return p
}

// command returns bin and args to run on cpu (-1: anywhere).
func (p pinPlan) command(cpu int, bin string, args []string) (string, []string) {
	if !p.on || cpu < 0 {
		return bin, args
	}
	return p.taskset, append([]string{"-c", strconv.Itoa(cpu), bin}, args...)
}

// note says how the processes ran, for the report.
func (p pinPlan) note() string {
	if !p.on {
		return "no CPU pinning (" + p.why + "): every process may run on every core"
	}
	return fmt.Sprintf("pinned with taskset: each proxy on CPU %d, the stub, vegeta and the driver on CPU %d, so that each proxy has one core to itself (Go proxies run with GOMAXPROCS=1, nginx with one worker)", p.proxyCPU, p.loadCPU)
}

// pinSelf moves every thread of the driver onto cpus (all cores when empty);
// threads created later inherit it from their creator.
func pinSelf(cpus ...int) error { return setAffinity(os.Getpid(), cpus...) }
