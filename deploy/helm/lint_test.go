package helm_test

import (
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs `helm lint` (the same rules, from Helm's lint package) with
// each values file: no error and no warning.
func TestLint(t *testing.T) {
	t.Parallel()
	for _, file := range valuesFiles(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			vals, err := readValues(file, nil)
			if err != nil {
				t.Fatal(err)
			}
			linter := lint.All(chartDir, vals, namespace, true)
			for _, m := range linter.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint -f %s: %v", filepath.Join("testdata", file), m)
				} else {
					t.Logf("helm lint -f %s: %v", filepath.Join("testdata", file), m)
				}
			}
		})
	}
}

// TestLintWithoutValues: `helm lint` of the bare chart finds exactly what a
// user must supply, the app id and the bot's image, and nothing else.
func TestLintWithoutValues(t *testing.T) {
	t.Parallel()
	linter := lint.All(chartDir, nil, namespace, true)
	var errs []string
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			errs = append(errs, m.Error())
		}
	}
	all := strings.Join(errs, "\n")
	for _, want := range []string{"appId", "repository"} {
		if !strings.Contains(all, want) {
			t.Errorf("helm lint without values: %q not named in\n%s", want, all)
		}
	}
	for _, e := range errs {
		if !strings.Contains(e, "/appId") {
			t.Errorf("helm lint without values: unexpected %s", e)
		}
	}
}
