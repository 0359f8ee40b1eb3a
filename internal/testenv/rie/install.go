// Package rie builds and runs the AWS Lambda Runtime Interface Emulator
// (aws-lambda-rie) around a bootstrap binary, for tests and `make invoke`.
//
// The emulator runs the real aws-lambda-go runtime loop of the bootstrap, so
// it proves what the function answers to an event. It buffers streamed
// responses and returns them whole (prelude, 8 NUL bytes, body) at the end,
// so it cannot prove that chunks leave one by one: internal/testenv/lambdatest does
// that.
package rie

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The emulator is a tool of this module: go.mod's tool directive names
// Package and its require block pins the version (a pseudo-version: the
// module has no semver tags), so every clone builds the same emulator, and
// `go tool -n aws-lambda-rie` builds it into the Go build cache (once) and
// prints where. Bump it with go get -tool Package@<version>.
const (
	Module     = "github.com/aws/aws-lambda-runtime-interface-emulator"
	Package    = Module + "/cmd/aws-lambda-rie"
	BinaryName = "aws-lambda-rie"
)

// EnsureInstalled returns the path of the emulator that repoRoot's go.mod
// pins, first building it if the build cache lacks it. Concurrent callers
// are safe: the build cache is.
func EnsureInstalled(repoRoot string) (string, error) {
	goCmd, err := goTool()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goCmd, "tool", "-n", BinaryName)
	cmd.Dir = repoRoot
	// Host platform and no cgo whatever the caller exported for a Lambda
	// cross-build: the emulator runs here.
	cmd.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n %s (in %s): %w\n%s", BinaryName, repoRoot, err, stderr.Bytes())
	}
	bin := strings.TrimSpace(string(out))
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("go tool -n %s: %w", BinaryName, err)
	}
	return bin, nil
}

// pinnedVersion is the emulator's version in repoRoot's go.mod.
func pinnedVersion(repoRoot string) (string, error) {
	goCmd, err := goTool()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(goCmd, "list", "-m", "-f", "{{.Version}}", Module)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", Module, err)
	}
	return strings.TrimSpace(string(out)), nil
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
	return "", errors.New("the go command is not on PATH; it is needed to build " + BinaryName)
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
