package helm_test

import (
	"path/filepath"
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
			checkLint(t, "helm lint -f "+filepath.Join("testdata", file), vals)
		})
	}
}

// TestLintChartDefaults: `helm lint` of the bare chart, with values.yaml's
// defaults only, is clean too, although those defaults lack what an install
// needs (appId, bot.image.repository, a credential): Helm's engine in lint
// mode turns the templates' required and fail into information, while
// install and template stop on them (TestRefusedValues).
func TestLintChartDefaults(t *testing.T) {
	t.Parallel()
	checkLint(t, "helm lint", nil)
}

// checkLint lints the chart with vals and fails on any error or warning.
func checkLint(t *testing.T, cmd string, vals map[string]any) {
	t.Helper()
	linter := lint.All(chartDir, vals, namespace, true)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("%s: %v", cmd, m)
		} else {
			t.Logf("%s: %v", cmd, m)
		}
	}
}
