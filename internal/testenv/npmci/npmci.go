// Package npmci installs the npm packages a test drives (the Codex CLI,
// Claude Code, the openai package), pinned in a folder's package.json and
// lock, with `npm ci`: once per test binary, and not at all when what the
// folder pins is already installed (git ignores its node_modules).
package npmci

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Folder is one folder of pinned npm packages.
type Folder struct {
	// Dir is the folder, relative to the test's package.
	Dir string
	// Installed reports nil when what dir (Dir made absolute) pins is
	// installed: it decides whether npm ci runs, and checks it after.
	Installed func(dir string) error

	once sync.Once
	dir  string
	err  error
}

// Install runs npm ci in the folder unless it is installed already, once
// for every test that calls it, and returns the folder's absolute path.
// npm's output goes to the first caller's log when it fails.
func (f *Folder) Install(t testing.TB) (string, error) {
	t.Helper()
	f.once.Do(func() {
		if f.dir, f.err = filepath.Abs(f.Dir); f.err != nil {
			return
		}
		if f.Installed(f.dir) == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = f.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			f.err = err
			t.Logf("npm ci: %s", out)
			return
		}
		if err := f.Installed(f.dir); err != nil {
			f.err = fmt.Errorf("after npm ci: %w", err)
		}
	})
	return f.dir, f.err
}

// Bin is the path of a package's command in dir's node_modules/.bin.
func Bin(dir, name string) string { return filepath.Join(dir, "node_modules", ".bin", name) }

// Version reports nil when `bin --version` runs and prints want.
func Version(bin, want string) error {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		return fmt.Errorf("%s --version: %v: %s", bin, err, out)
	}
	return nil
}
