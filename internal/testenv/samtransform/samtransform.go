// Package samtransform shows tests what CloudFormation template `sam deploy`
// submits for a SAM template: it runs samtranslator (the Python library
// behind the AWS::Serverless transform, installed with cfn-lint, which the
// tests already require) through transform.py and decodes the result.
//
// Reading template.yaml alone cannot show what SAM adds (roles, stages,
// deployments); the transformed template can, so assertions about deployed
// resources are made on it.
package samtransform

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Template is a decoded CloudFormation template.
type Template struct {
	Parameters map[string]map[string]any `json:"Parameters"`
	Conditions map[string]any            `json:"Conditions"`
	Resources  map[string]Resource       `json:"Resources"`
	Outputs    map[string]map[string]any `json:"Outputs"`
}

// Resource is one CloudFormation resource.
type Resource struct {
	Type                string         `json:"Type"`
	Condition           string         `json:"Condition"`
	DeletionPolicy      string         `json:"DeletionPolicy"`
	UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
	Properties          map[string]any `json:"Properties"`
}

// OfType returns the logical IDs of the resources of type typ.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	return ids
}

// Transform returns the template SAM deploys for the SAM template at path,
// with the given parameter overrides (Name=Value). A missing python3 or
// samtranslator fails the test with what to install.
func Transform(t *testing.T, path string, params ...string) *Template {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "transform.py")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python(), append([]string{script, path}, params...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("samtranslator transform of %s: %v\n%s\n(samtranslator ships with cfn-lint: pip install cfn-lint)", path, err, stderr.String())
	}
	var out Template
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("decode transformed template: %v", err)
	}
	return &out
}

// python returns the interpreter cfn-lint runs with, so samtranslator is
// importable even when python3 on PATH is another installation.
func python() string {
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			first, _, _ := strings.Cut(string(b), "\n")
			if interp, ok := strings.CutPrefix(first, "#!"); ok && !strings.Contains(interp, " ") && strings.Contains(interp, "python") {
				return interp
			}
		}
	}
	return "python3"
}
