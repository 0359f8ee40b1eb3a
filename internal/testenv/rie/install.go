// Package rie installs and runs the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie) around a bootstrap binary, for tests and `make invoke`.
//
// The emulator runs the real aws-lambda-go runtime loop of the bootstrap, so
// it proves what the function answers to an event. It buffers streamed
// responses and returns them whole (prelude, 8 NUL bytes, body) at the end,
// so it cannot prove that chunks leave one by one: internal/testenv/lambdatest does
// that.
package rie

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The emulator is installed from source with go install, pinned: its module
// has no semver tags, so a pseudo-version names the commit.
const (
	Module     = "github.com/aws/aws-lambda-runtime-interface-emulator"
	Package    = Module + "/cmd/aws-lambda-rie"
	Version    = "v0.0.0-20261030222936-bef5c4ba774d"
	BinaryName = "aws-lambda-rie"
)

// EnsureInstalled returns <repoRoot>/bin/aws-lambda-rie, first installing it
// (GOBIN=<repoRoot>/bin go install Package@Version) if it is missing or was
// built from another version. Concurrent callers are safe: each installs into
// its own directory and renames the binary into place.
func EnsureInstalled(repoRoot string) (string, error) {
	binDir := filepath.Join(repoRoot, "bin")
	bin := filepath.Join(binDir, BinaryName)
	if installedVersion(bin) == Version {
		return bin, nil
	}
	goCmd, err := goTool()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", BinaryName, err)
	}
	tmp, err := os.MkdirTemp(binDir, ".rie-install-")
	if err != nil {
		return "", fmt.Errorf("install %s: %w", BinaryName, err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goCmd, "install", Package+"@"+Version)
	cmd.Dir = repoRoot
	// Host platform and no cgo whatever the caller exported for a Lambda
	// cross-build (go install refuses GOBIN with a foreign GOOS/GOARCH).
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", Package, Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, BinaryName), bin); err != nil {
		return "", fmt.Errorf("install %s: %w", BinaryName, err)
	}
	return bin, nil
}

// installedVersion reads the emulator module's version from a binary's
// build information ("" if it is missing or unreadable).
func installedVersion(bin string) string {
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	goCmd, err := goTool()
	if err != nil {
		return ""
	}
	out, err := exec.Command(goCmd, "version", "-m", bin).Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && f[1] == Module {
			return f[2]
		}
	}
	return ""
}

// goTool finds the go command: on PATH, else in GOROOT.
func goTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH; it is needed to install " + BinaryName)
}

// FindRepoRoot walks up from dir to the directory holding go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}
