package helm_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const readme = "../README.md"

// TestReadmeSnippet decodes the injection snippet of deploy/README.md (the
// lines a user adds to their own Deployment) strictly into a PodSpec and
// holds its sidecar container to the chart's checks. Its probes, security
// context, resources and ports must equal the chart's own.
func TestReadmeSnippet(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- sidecar-snippet:begin -->\\s*```yaml\n(.*?)```\\s*<!-- sidecar-snippet:end -->").FindSubmatch(data)
	if m == nil {
		t.Fatal("no sidecar snippet between <!-- sidecar-snippet:begin/end --> in deploy/README.md")
	}
	var spec corev1.PodSpec
	if err := yaml.UnmarshalStrict(m[1], &spec); err != nil {
		t.Fatalf("the README's snippet is not a valid PodSpec: %v", err)
	}
	snippet := &release{deployment: &appsv1.Deployment{}}
	snippet.deployment.Spec.Template.Spec = spec
	sidecar := snippet.container(t, "sidecar")
	checkSidecarContainer(t, sidecar)
	checkCredentialFiles(t, snippet, sidecar)

	chart := mustRender(t, "defaults.yaml", nil).container(t, "sidecar")
	for _, tt := range []struct {
		name       string
		give, want any
	}{
		{"securityContext", sidecar.SecurityContext, chart.SecurityContext},
		{"resources", sidecar.Resources, chart.Resources},
		{"liveness path", sidecar.LivenessProbe.HTTPGet, chart.LivenessProbe.HTTPGet},
		{"readiness path", sidecar.ReadinessProbe.HTTPGet, chart.ReadinessProbe.HTTPGet},
		{"SIDECAR_STORE", env(sidecar, "SIDECAR_STORE"), env(chart, "SIDECAR_STORE")},
		{"SIDECAR_CLIENT_SECRET_FILE", env(sidecar, "SIDECAR_CLIENT_SECRET_FILE"), env(chart, "SIDECAR_CLIENT_SECRET_FILE")},
		{"volumeMounts", sidecar.VolumeMounts, chart.VolumeMounts},
	} {
		if !reflect.DeepEqual(tt.give, tt.want) {
			t.Errorf("README snippet %s = %+v; the chart renders %+v", tt.name, tt.give, tt.want)
		}
	}
	if got := deref(spec.TerminationGracePeriodSeconds); got != 30 {
		t.Errorf("README snippet terminationGracePeriodSeconds = %d; want 30", got)
	}
	if spec.SecurityContext == nil || deref(spec.SecurityContext.FSGroup) != 65532 {
		t.Error("README snippet: the pod lacks fsGroup 65532, without which uid 65532 cannot read the 0440 secret")
	}
}

// TestValuesDocumented: every value in values.yaml has a row in the
// README's values table (a row for a map covers what it holds), and every
// row names a value that exists.
func TestValuesDocumented(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Values\n")
	if !ok {
		t.Fatal("deploy/README.md has no \"### Values\" section")
	}
	if end := regexp.MustCompile(`\n##+ `).FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	documented := map[string]bool{}
	row := regexp.MustCompile("^\\| (`[^|]+`) \\|")
	for line := range strings.Lines(section) {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, key := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(m[1], -1) {
			documented[key[1]] = true
		}
	}
	if len(documented) < 20 {
		t.Fatalf("only %d rows found in the values table", len(documented))
	}
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		seen[prefix] = true
		if documented[prefix] {
			return
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			t.Errorf("value %s is not in deploy/README.md's values table", prefix)
			return
		}
		for k, child := range m {
			walk(prefix+"."+k, child)
		}
	}
	for k, v := range values {
		walk(k, v)
	}
	for key := range documented {
		if !seen[key] {
			t.Errorf("deploy/README.md documents %s, which values.yaml lacks", key)
		}
	}
}
