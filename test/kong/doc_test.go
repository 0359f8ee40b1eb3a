package kong

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

const docPath = "../../docs/kong-conformance.md"

// conformanceTable is the generated part of docs/kong-conformance.md: the
// counts and one line per row.
func conformanceTable(rows []row) string {
	count := map[string]int{}
	var b strings.Builder
	b.WriteString("| spec | it(...) | status | why |\n|---|---|---|---|\n")
	for _, r := range rows {
		count[r.status()]++
		why := r.pending + r.deliberate
		if r.note != "" {
			if why != "" {
				why += ". "
			}
			why += "Note: " + r.note
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.spec, cell(r.it), r.status(), cell(why))
	}
	head := fmt.Sprintf("%d scenarios: %d agree, %d pending, %d deliberate.\n\n",
		len(rows), count["agrees"], count["pending"], count["deliberate"])
	return head + b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

const (
	beginTable = "<!-- table: generated from test/kong; TestConformanceDoc checks it -->\n"
	endTable   = "<!-- /table -->"
)

// TestConformanceDoc keeps docs/kong-conformance.md in step with the
// tables: every row, its status and its reason. It writes nothing; on a
// difference it prints the section to paste.
func TestConformanceDoc(t *testing.T) {
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, beginTable), strings.Index(doc, endTable)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated table between %q and %q", docPath, beginTable, endTable)
	}
	want := conformanceTable(allRows())
	if got := doc[i+len(beginTable) : j]; got != want {
		t.Errorf("%s is out of date; replace its table with:\n%s%s%s", docPath, beginTable, want, endTable)
	}
}
