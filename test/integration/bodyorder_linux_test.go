//go:build linux

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/binary"
	"github.com/lambda-ai-proxy/lambda-ai-proxy/internal/testenv/stub"
)

// The slow-body flood reads the binary's resident memory from /proc, which
// only Linux has; the same bound is proven on every platform in-process by
// pkg/proxy's TestSlowBodyFloodMemoryFlat.

// TestLocalServerSlowBodyFlood: a few hundred clients on an open route
// (key-auth off: every body is unauthenticated) each declare a body of the
// route's maximum and send all of it but the last byte. With
// AIPROXY_MAX_BODY_READS=4, four are read and the rest are answered 503
// server_busy; the process's peak RSS stays within a flat bound instead of
// growing by clients × body size.
func TestLocalServerSlowBodyFlood(t *testing.T) {
	const (
		clients = 256
		size    = 512 << 10 // 128 MiB in all
		slots   = 4
		bound   = 48 << 20
	)
	bin := binary.Build(t)
	upstream := httptest.NewServer(stub.New())
	defer upstream.Close()
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	doc := stub.PluginConfig(upstream.URL+"/v1/chat/completions", "Bearer "+upstreamKey) + fmt.Sprintf("max_request_body_size: %d\n", size)
	if err := os.WriteFile(cfgFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := binary.FreeAddr(t)
	p := binary.Start(t, bin, "AIPROXY_CONFIG_FILE="+cfgFile, "AIPROXY_LISTEN="+addr, "AIPROXY_MAX_BODY_READS="+strconv.Itoa(slots))
	p.WaitListening(t, addr)
	res, err := http.Post("http://"+addr+"/gpt-4o/chat/completions", "application/json", strings.NewReader(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	before := procKiB(t, p.Cmd.Process.Pid, "VmRSS") << 10

	head := fmt.Sprintf("POST /gpt-4o/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, size)
	payload := make([]byte, size-1)
	var sent, ended, busy atomic.Int32
	for range clients {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() {
			defer sent.Add(1)
			if _, err := io.WriteString(conn, head); err != nil {
				return
			}
			for off := 0; off < len(payload); off += 16 << 10 { // dribbled in 16 KiB pieces
				if _, err := conn.Write(payload[off:min(off+16<<10, len(payload))]); err != nil {
					return
				}
			}
		}()
		go func() {
			defer ended.Add(1)
			if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil && res.StatusCode == 503 {
				busy.Add(1)
			}
		}()
	}
	// Settled: every client has sent what it will, and those beyond the
	// gate have their answer. Then the peak RSS is watched for a while:
	// a server that reads every body shows it while it copies them in.
	peak := func() uint64 { return procKiB(t, p.Cmd.Process.Pid, "VmHWM") << 10 }
	deadline := time.Now().Add(2 * time.Minute)
	for sent.Load() < clients || ended.Load() < clients-slots {
		if time.Now().After(deadline) {
			t.Fatalf("not settled: %d of %d clients sent, %d answered", sent.Load(), clients, ended.Load())
		}
		if hwm := peak(); hwm > before+bound {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 50 {
		if hwm := peak(); hwm > before+bound {
			t.Fatalf("peak RSS %d MiB under the flood, from %d MiB (bound +%d MiB); %d clients answered 503",
				hwm>>20, before>>20, bound>>20, busy.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("RSS %d MiB before, peak %d MiB under %d slow bodies; %d answered 503", before>>20, peak()>>20, clients, busy.Load())
	if busy.Load() < clients-slots {
		t.Errorf("%d clients answered 503, want %d", busy.Load(), clients-slots)
	}
}

// procKiB reads a kB field of /proc/<pid>/status.
func procKiB(t *testing.T, pid int, field string) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
