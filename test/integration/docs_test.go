package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The README's environment table lists every variable the binary reads:
// each AIPROXY_* name (and OPENAI_API_KEY) written in the non-test Go code
// of functions/ and pkg/ must have a row.
func TestReadmeListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Environment\n")
	if !ok {
		t.Fatal("README has no Environment section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	name := regexp.MustCompile(`"((?:AIPROXY_[A-Z0-9_]+)|OPENAI_API_KEY)"`)
	read := map[string]string{}
	for _, dir := range []string{"../../functions", "../../pkg"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range name.FindAllStringSubmatch(string(src), -1) {
				read[m[1]] = path
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(read) < 10 {
		t.Fatalf("found only %d variables in the code: %v", len(read), read)
	}
	var missing []string
	for v, where := range read {
		if !strings.Contains(table, "`"+v+"`") {
			missing = append(missing, v+" ("+where+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("README's environment table lacks: %s", strings.Join(missing, ", "))
	}
}
