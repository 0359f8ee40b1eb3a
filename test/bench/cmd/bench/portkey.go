package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// portkeyDir holds Portkey's pinned package.json and lock file; run.sh
// installs it there with `npm ci` (node_modules is not committed).
const portkeyDir = "test/bench/portkey"

// portkeyServer is the gateway's Node.js entry point inside portkeyDir.
const portkeyServer = "node_modules/@portkey-ai/gateway/build/start-server.js"

// portkeyVersions reads what is installed, or says why Portkey cannot run.
func portkeyVersions(root string) (desc string, pending string) {
	dir := filepath.Join(root, portkeyDir)
	if _, err := os.Stat(filepath.Join(dir, portkeyServer)); err != nil {
		return "", "Portkey's gateway is not installed (run.sh installs it with `npm ci` in " + portkeyDir + "; it needs Node.js >= 20 and npm)"
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "node not found"
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Sprintf("node --version: %v", err)
	}
	version := func(pkg string) string {
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", pkg, "package.json"))
		if err != nil {
			return "?"
		}
		var v struct{ Version string }
		_ = json.Unmarshal(b, &v)
		return v.Version
	}
	return fmt.Sprintf("@portkey-ai/gateway %s, @hono/node-server %s, Node.js %s",
		version("@portkey-ai/gateway"), version("@hono/node-server"), strings.TrimSpace(string(out))), ""
}

// startPortkey starts the gateway on loopback (loopback.cjs), headless and
// in production mode (no UI, no file logs), pinned like every proxy.
func (e *benchEnv) startPortkey(ctx context.Context) (*proc, error) {
	dir := filepath.Join(e.s.root, portkeyDir)
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("portkey: %w", err)
	}
	return e.startListening(ctx, "portkey", pins.proxyCPU, node, func(addr string) ([]string, []string) {
		_, port, _ := strings.Cut(addr, ":")
		return []string{"-r", filepath.Join(dir, "loopback.cjs"), filepath.Join(dir, portkeyServer), "--port=" + port, "--headless"},
			[]string{"NODE_ENV=production"}
	})
}
