package main

import (
	"os"
	"strings"
	"testing"

	"github.com/botsidecar/sidecar/config"
)

// TestREADMEDocumentsEveryVariable keeps the configuration table honest:
// every variable the sidecar reads has a row, with its default.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, readme, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	for _, v := range config.Variables() {
		row := ""
		for _, line := range strings.Split(readme, "\n") {
			if strings.HasPrefix(line, "| `"+v.Name+"` |") {
				row = line
				break
			}
		}
		if row == "" {
			t.Errorf("README's configuration table has no row for %s", v.Name)
			continue
		}
		if v.Alias != "" && !strings.Contains(row, "`"+v.Alias+"`") {
			t.Errorf("README row for %s lacks its alias %s", v.Name, v.Alias)
		}
		if v.Default != "" && !strings.Contains(row, "`"+v.Default+"`") {
			t.Errorf("README row for %s lacks its default %q: %s", v.Name, v.Default, row)
		}
	}
}
