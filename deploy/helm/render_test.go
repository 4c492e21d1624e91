// Package helm_test renders the bot-sidecar chart with Helm's own Go
// packages (the loader, the values schema check and the template engine that
// `helm template` uses), decodes every manifest strictly into the Kubernetes
// API types, and checks what the chart promises: the Service exposes only the
// inbound port, secrets never sit in plain environment variables, the probes
// and security context are right, and bad values fail with a clear message.
package helm_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "bot-sidecar"
	releaseName = "mybot"
	namespace   = "bots"
)

// release is one rendered chart, decoded.
type release struct {
	// manifests is every rendered manifest, as helm template prints them.
	manifests string
	notes     string

	deployment      *appsv1.Deployment
	services        []corev1.Service
	secrets         []corev1.Secret
	serviceAccounts []corev1.ServiceAccount
	claims          []corev1.PersistentVolumeClaim
	budgets         []policyv1.PodDisruptionBudget
	networkPolicies []networkingv1.NetworkPolicy
	ingresses       []networkingv1.Ingress
	serviceMonitors []serviceMonitor
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) that the chart writes. The operator's Go module
// is large, so its type is restated here; decoding stays strict, so a field
// the chart adds must be added here, checked against the operator's CRD.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// readValues reads a values file from testdata and applies set, whose keys
// are dotted paths ("store.type"), as helm's --set does.
func readValues(file string, set map[string]any) (map[string]any, error) {
	vals := map[string]any{}
	if file != "" {
		v, err := chartutil.ReadValuesFile(filepath.Join("testdata", file))
		if err != nil {
			return nil, err
		}
		vals = v
	}
	for _, path := range slices.Sorted(maps.Keys(set)) {
		m := vals
		keys := strings.Split(path, ".")
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[keys[len(keys)-1]] = set[path]
	}
	return vals, nil
}

// render renders the chart as `helm template mybot bot-sidecar -n bots -f
// testdata/FILE --set …` does: values coalesced with the chart's defaults,
// checked against values.schema.json, then the templates executed. The
// engine runs in strict mode, so a template that reads a value the chart
// does not define fails here rather than rendering an empty string.
func render(file string, set map[string]any) (*release, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := readValues(file, set)
	if err != nil {
		return nil, err
	}
	top, err := chartutil.ToRenderValues(chrt, vals, chartutil.ReleaseOptions{
		Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	files, err := engine.Engine{Strict: true}.Render(chrt, top)
	if err != nil {
		return nil, err
	}
	r := &release{}
	var all strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			r.notes = content
			continue
		case strings.HasPrefix(filepath.Base(name), "_"):
			continue
		}
		docs := releaseutil.SplitManifests(content)
		keys := slices.Collect(maps.Keys(docs))
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, key := range keys {
			doc := docs[key]
			if strings.TrimSpace(doc) == "" {
				continue
			}
			fmt.Fprintf(&all, "---\n# Source: %s\n%s\n", name, doc)
			if err := r.decode([]byte(doc)); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	r.manifests = all.String()
	if r.deployment == nil {
		return nil, fmt.Errorf("no Deployment rendered")
	}
	return r, nil
}

// decode decodes one manifest strictly into its API type: an unknown or
// misspelt field, or a duplicate key, is an error.
func (r *release) decode(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	strict := func(into any) error {
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		if r.deployment != nil {
			return fmt.Errorf("a second Deployment")
		}
		r.deployment = &appsv1.Deployment{}
		return strict(r.deployment)
	case "v1 Service":
		return appendStrict(&r.services, strict)
	case "v1 Secret":
		return appendStrict(&r.secrets, strict)
	case "v1 ServiceAccount":
		return appendStrict(&r.serviceAccounts, strict)
	case "v1 PersistentVolumeClaim":
		return appendStrict(&r.claims, strict)
	case "policy/v1 PodDisruptionBudget":
		return appendStrict(&r.budgets, strict)
	case "networking.k8s.io/v1 NetworkPolicy":
		return appendStrict(&r.networkPolicies, strict)
	case "networking.k8s.io/v1 Ingress":
		return appendStrict(&r.ingresses, strict)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return appendStrict(&r.serviceMonitors, strict)
	}
	return fmt.Errorf("unexpected kind %q %q: add it to the test's decoder", tm.APIVersion, tm.Kind)
}

func appendStrict[T any](list *[]T, strict func(any) error) error {
	var v T
	if err := strict(&v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// mustRender renders and fails the test on any error.
func mustRender(t *testing.T, file string, set map[string]any) *release {
	t.Helper()
	r, err := render(file, set)
	if err != nil {
		t.Fatalf("render %s %v: %v", file, set, err)
	}
	return r
}

// pod returns the Deployment's pod spec.
func (r *release) pod() *corev1.PodSpec { return &r.deployment.Spec.Template.Spec }

// container returns the named container of the pod, failing when absent.
func (r *release) container(t *testing.T, name string) *corev1.Container {
	t.Helper()
	for i, c := range r.pod().Containers {
		if c.Name == name {
			return &r.pod().Containers[i]
		}
	}
	t.Fatalf("no container %q in the pod", name)
	return nil
}

// service returns the Service with the given name, or nil.
func (r *release) service(name string) *corev1.Service {
	for i := range r.services {
		if r.services[i].Name == name {
			return &r.services[i]
		}
	}
	return nil
}

// env returns the named variable of c, or nil.
func env(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// envValue returns the plain value of the named variable, failing when it
// is absent or comes from a reference.
func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	e := env(c, name)
	switch {
	case e == nil:
		t.Fatalf("container %s has no %s", c.Name, name)
	case e.ValueFrom != nil:
		t.Fatalf("container %s: %s comes from a reference, want a plain value", c.Name, name)
	}
	return e.Value
}

// volume returns the pod volume with the given name, or nil.
func (r *release) volume(name string) *corev1.Volume {
	for i, v := range r.pod().Volumes {
		if v.Name == name {
			return &r.pod().Volumes[i]
		}
	}
	return nil
}

// valuesFiles lists testdata/*.yaml, the values files every check runs on.
func valuesFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no values files in testdata: %v", err)
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return names
}

// writeGolden is a debugging aid: with BOT_SIDECAR_RENDER_DIR set, each
// render is written there, as `helm template` would print it.
func writeGolden(t *testing.T, name string, r *release) {
	dir := os.Getenv("BOT_SIDECAR_RENDER_DIR")
	if dir == "" {
		return
	}
	var b bytes.Buffer
	b.WriteString(r.manifests)
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Error(err)
	}
}
