package helm_test

import (
	"encoding/base64"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The sidecar's ports (docs/configuration.md: the listeners' defaults).
const (
	inboundPort  = 3978
	outboundPort = 3979
	adminPort    = 9090
)

// sidecarEnv is every variable the sidecar knows (docs/configuration.md's
// table, aliases included). The chart must set
// nothing else on the sidecar container: a misspelt name would be silently
// ignored by the sidecar.
var sidecarEnv = []string{
	"MicrosoftAppId", "CLIENT_ID",
	"MicrosoftAppPassword", "CLIENT_SECRET",
	"MicrosoftAppTenantId", "TENANT_ID",
	"MicrosoftAppType",
	"SIDECAR_CLIENT_SECRET_FILE",
	"SIDECAR_CLIENT_CERT_FILE",
	"AZURE_FEDERATED_TOKEN_FILE",
	"SIDECAR_CLOUD",
	"SIDECAR_AUTHORITY_HOST",
	"SIDECAR_TOKEN_SCOPE",
	"SIDECAR_OPENID_METADATA_URL",
	"SIDECAR_CHANNEL_ISSUER",
	"SIDECAR_INBOUND_ADDR",
	"SIDECAR_OUTBOUND_ADDR",
	"SIDECAR_ADMIN_ADDR",
	"SIDECAR_ADMIN_REFERENCES",
	"SIDECAR_OUTBOUND_NON_LOOPBACK_I_UNDERSTAND",
	"SIDECAR_TRUST_SHARED_HOSTS_I_UNDERSTAND",
	"SIDECAR_BOT_URL",
	"SIDECAR_OUTBOUND_URL",
	"SIDECAR_TRUSTED_SERVICE_URLS",
	"SIDECAR_DEFAULT_SERVICE_URL",
	"SIDECAR_ACCEPT_ENTRA_TOKENS",
	"SIDECAR_ENTRA_TOKEN_APP_IDS",
	"SIDECAR_STORE",
	"SIDECAR_REFERENCE_CACHE_SIZE",
	"SIDECAR_REFERENCE_TTL",
	"SIDECAR_BOT_TIMEOUT",
	"SIDECAR_SHUTDOWN_GRACE",
	"SIDECAR_PACING", "SIDECAR_PACING_SEND", "SIDECAR_PACING_READ", "SIDECAR_PACING_TENANT", "SIDECAR_PACING_MAX_WAIT", "SIDECAR_PACING_MARGIN", "SIDECAR_PACING_REPLICAS",
	"SIDECAR_MAX_BODY_BYTES",
	"SIDECAR_LOG_LEVEL",
	"SIDECAR_LOG_FORMAT",
}

// plainSecretEnv are the variables that would carry a secret as a plain
// value; the chart mounts secrets as files instead.
var plainSecretEnv = []string{"MicrosoftAppPassword", "CLIENT_SECRET"}

// credentialEnv are the variables that each select a credential; the
// sidecar refuses to start with more than one.
var credentialEnv = []string{"MicrosoftAppPassword", "CLIENT_SECRET", "SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_CLIENT_CERT_FILE", "AZURE_FEDERATED_TOKEN_FILE"}

// checkInvariants checks what must hold for every values file.
func checkInvariants(t *testing.T, r *release) {
	t.Helper()
	checkServices(t, r)
	checkSelectors(t, r)
	sidecar := r.container(t, "sidecar")
	checkSidecarContainer(t, sidecar)
	checkCredentialFiles(t, r, sidecar)
	checkStore(t, r, sidecar)
	checkBot(t, r, sidecar)

	if got := r.pod().TerminationGracePeriodSeconds; got == nil || *got != 30 {
		t.Errorf("terminationGracePeriodSeconds = %v; want 30", deref(got))
	}
	// Each replica paces its share of the rate limits.
	if got, want := envValue(t, sidecar, "SIDECAR_PACING_REPLICAS"), fmt.Sprint(deref(r.deployment.Spec.Replicas)); got != want {
		t.Errorf("SIDECAR_PACING_REPLICAS = %q; want the replica count %s", got, want)
	}
	if got := envValue(t, sidecar, "SIDECAR_SHUTDOWN_GRACE"); got != "25s" {
		t.Errorf("SIDECAR_SHUTDOWN_GRACE = %q; want 25s", got)
	}
	if r.notes == "" {
		t.Error("NOTES.txt rendered empty")
	}
	for _, name := range r.names() {
		if len(name) > 63 {
			t.Errorf("name %q is longer than 63 characters", name)
		}
	}
}

// checkServices: the channel-facing Service exposes the inbound port only;
// no Service ever exposes the bot-facing port, and only the -metrics
// Service exposes the admin port.
func checkServices(t *testing.T, r *release) {
	t.Helper()
	main := r.service(releaseName + "-bot-sidecar")
	if main == nil {
		t.Fatal("no channel-facing Service")
	}
	if len(main.Spec.Ports) != 1 {
		t.Errorf("Service %s has %d ports; want only the inbound port", main.Name, len(main.Spec.Ports))
	}
	for _, svc := range r.services {
		for _, p := range svc.Spec.Ports {
			target := targetOf(t, r, p)
			if p.Port == outboundPort || target == outboundPort {
				t.Errorf("Service %s exposes the bot-facing port %d (port %d → %v)", svc.Name, outboundPort, p.Port, p.TargetPort.String())
			}
			isMetrics := svc.Name == releaseName+"-bot-sidecar-metrics"
			if (p.Port == adminPort || target == adminPort) && !isMetrics {
				t.Errorf("Service %s exposes the admin port (port %d → %v); only the -metrics Service may", svc.Name, p.Port, p.TargetPort.String())
			}
			if svc.Name == main.Name && target != inboundPort {
				t.Errorf("Service %s port %d targets %v (%d); want the inbound port %d", svc.Name, p.Port, p.TargetPort.String(), target, inboundPort)
			}
			if isMetrics && target != adminPort {
				t.Errorf("Service %s port %d targets %d; want the admin port", svc.Name, p.Port, target)
			}
			if target != inboundPort && target != adminPort {
				t.Errorf("Service %s port %d targets %v: not a sidecar port", svc.Name, p.Port, p.TargetPort.String())
			}
		}
	}
}

// targetOf resolves a Service port's target to a number, through the
// sidecar container's named ports.
func targetOf(t *testing.T, r *release, p corev1.ServicePort) int32 {
	t.Helper()
	switch {
	case p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0:
		return p.TargetPort.IntVal
	case p.TargetPort.Type == intstr.Int:
		return p.Port // an unset targetPort means the same as port
	}
	for _, c := range r.pod().Containers {
		for _, cp := range c.Ports {
			if cp.Name == p.TargetPort.StrVal {
				return cp.ContainerPort
			}
		}
	}
	t.Errorf("Service port %d targets %q, which no container declares", p.Port, p.TargetPort.StrVal)
	return 0
}

// checkSelectors: every selector of the chart selects the pods.
func checkSelectors(t *testing.T, r *release) {
	t.Helper()
	podLabels := r.deployment.Spec.Template.Labels
	selects := func(what string, sel map[string]string) {
		for k, v := range sel {
			if podLabels[k] != v {
				t.Errorf("%s selects %s=%s, which the pod does not carry", what, k, v)
			}
		}
		if len(sel) == 0 {
			t.Errorf("%s selects nothing", what)
		}
	}
	selects("the Deployment", r.deployment.Spec.Selector.MatchLabels)
	for _, svc := range r.services {
		selects("Service "+svc.Name, svc.Spec.Selector)
	}
	for _, pdb := range r.budgets {
		selects("PodDisruptionBudget "+pdb.Name, pdb.Spec.Selector.MatchLabels)
	}
	for _, np := range r.networkPolicies {
		selects("NetworkPolicy "+np.Name, np.Spec.PodSelector.MatchLabels)
	}
	if sa := r.pod().ServiceAccountName; len(r.serviceAccounts) > 0 && r.serviceAccounts[0].Name != sa {
		t.Errorf("the pod runs as ServiceAccount %q; the chart created %q", sa, r.serviceAccounts[0].Name)
	}
}

// checkSidecarContainer: ports, probes on the admin port, security
// context, resources and env names.
func checkSidecarContainer(t *testing.T, c *corev1.Container) {
	t.Helper()
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		if p.ContainerPort == outboundPort {
			t.Errorf("the sidecar declares the loopback-only port %d", outboundPort)
		}
	}
	if ports["inbound"] != inboundPort || ports["admin"] != adminPort {
		t.Errorf("sidecar ports = %v; want inbound %d and admin %d", ports, inboundPort, adminPort)
	}
	for _, tt := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		if tt.probe == nil || tt.probe.HTTPGet == nil {
			t.Errorf("sidecar %s probe = %+v; want an HTTP GET", tt.name, tt.probe)
			continue
		}
		get := tt.probe.HTTPGet
		if get.Path != tt.path || get.Port.String() != "admin" {
			t.Errorf("sidecar %s probe = GET %s on port %s; want GET %s on port admin", tt.name, get.Path, get.Port.String(), tt.path)
		}
	}

	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("the sidecar has no securityContext")
	}
	checkRestricted(t, "sidecar", sc)
	if deref(sc.RunAsUser) != 65532 || !deref(sc.ReadOnlyRootFilesystem) {
		t.Errorf("sidecar runAsUser = %v, readOnlyRootFilesystem = %v; want 65532 and true", deref(sc.RunAsUser), deref(sc.ReadOnlyRootFilesystem))
	}

	res := c.Resources
	if res.Requests.Cpu().String() != "10m" || res.Requests.Memory().String() != "32Mi" || res.Limits.Memory().String() != "256Mi" {
		t.Errorf("sidecar resources = requests %v/%v, memory limit %v; want 10m/32Mi, 256Mi",
			res.Requests.Cpu(), res.Requests.Memory(), res.Limits.Memory())
	}

	var credentials []string
	for _, e := range c.Env {
		if !slices.Contains(sidecarEnv, e.Name) {
			t.Errorf("the sidecar gets %s, which it does not know (docs/configuration.md)", e.Name)
		}
		if slices.Contains(plainSecretEnv, e.Name) {
			t.Errorf("the sidecar gets the secret %s as an environment variable; mount it as a file", e.Name)
		}
		if slices.Contains(credentialEnv, e.Name) {
			credentials = append(credentials, e.Name)
		}
	}
	if len(credentials) > 1 {
		t.Errorf("the sidecar gets several credentials %v; it refuses to start with more than one", credentials)
	}
}

// checkRestricted checks the fields of the restricted Pod Security Standard
// that both containers must carry.
func checkRestricted(t *testing.T, name string, sc *corev1.SecurityContext) {
	t.Helper()
	if !deref(sc.RunAsNonRoot) {
		t.Errorf("%s: runAsNonRoot is not true", name)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", name)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("%s: capabilities = %+v; want drop [ALL] and nothing added", name, sc.Capabilities)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile = %+v; want RuntimeDefault", name, sc.SeccompProfile)
	}
	if deref(sc.Privileged) {
		t.Errorf("%s: privileged", name)
	}
}

// checkCredentialFiles: a credential file the sidecar is told to read is a
// key of a mounted secret volume, mounted read-only without subPath (so
// that rotations reach it).
func checkCredentialFiles(t *testing.T, r *release, c *corev1.Container) {
	t.Helper()
	for _, name := range []string{"SIDECAR_CLIENT_SECRET_FILE", "SIDECAR_CLIENT_CERT_FILE"} {
		if env(c, name) == nil {
			continue
		}
		file := envValue(t, c, name)
		var mount *corev1.VolumeMount
		for i, m := range c.VolumeMounts {
			if m.MountPath == path.Dir(file) {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil {
			t.Errorf("%s=%s: no volume is mounted at %s", name, file, path.Dir(file))
			continue
		}
		if !mount.ReadOnly || mount.SubPath != "" {
			t.Errorf("%s: mount %+v; want read-only without subPath", name, mount)
		}
		v := r.volume(mount.Name)
		if v == nil || v.Secret == nil {
			t.Errorf("%s: volume %s is not a secret volume", name, mount.Name)
			continue
		}
		found := false
		for _, item := range v.Secret.Items {
			found = found || item.Path == path.Base(file)
		}
		if !found {
			t.Errorf("%s: secret volume %s has no item at %s", name, v.Name, path.Base(file))
		}
	}
}

// checkStore: bolt has its file on a claim, mounted where SIDECAR_STORE
// points, one replica and the Recreate strategy; redis comes from a Secret.
func checkStore(t *testing.T, r *release, c *corev1.Container) {
	t.Helper()
	e := env(c, "SIDECAR_STORE")
	if e == nil {
		t.Fatal("the sidecar has no SIDECAR_STORE")
	}
	switch {
	case e.ValueFrom != nil:
		if e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("SIDECAR_STORE comes from %+v; want a secretKeyRef", e.ValueFrom)
		}
		if r.deployment.Spec.Strategy.Type == "Recreate" {
			t.Error("a shared store needs no Recreate strategy")
		}
	case strings.HasPrefix(e.Value, "bolt:"):
		file := strings.TrimPrefix(e.Value, "bolt:")
		if !path.IsAbs(file) {
			t.Errorf("SIDECAR_STORE = %s; want an absolute path", e.Value)
		}
		var mount *corev1.VolumeMount
		for i, m := range c.VolumeMounts {
			if m.MountPath == path.Dir(file) {
				mount = &c.VolumeMounts[i]
			}
		}
		if mount == nil || mount.ReadOnly {
			t.Fatalf("SIDECAR_STORE = %s: no writable volume at %s", e.Value, path.Dir(file))
		}
		v := r.volume(mount.Name)
		if v == nil || v.PersistentVolumeClaim == nil {
			t.Fatalf("the bolt volume %s is not a PersistentVolumeClaim", mount.Name)
		}
		if !slices.ContainsFunc(r.claims, func(pvc corev1.PersistentVolumeClaim) bool { return pvc.Name == v.PersistentVolumeClaim.ClaimName }) {
			t.Errorf("the pod mounts claim %s, which the chart does not create", v.PersistentVolumeClaim.ClaimName)
		}
		if n := deref(r.deployment.Spec.Replicas); n > 1 {
			t.Errorf("bolt with %d replicas", n)
		}
		if r.deployment.Spec.Strategy.Type != "Recreate" {
			t.Errorf("bolt: strategy %q; want Recreate (the file is locked by one pod)", r.deployment.Spec.Strategy.Type)
		}
	case e.Value == "memory:":
		if n := deref(r.deployment.Spec.Replicas); n > 1 {
			t.Errorf("memory: with %d replicas", n)
		}
	default:
		t.Errorf("SIDECAR_STORE = %q; want bolt:, memory: or a secretKeyRef", e.Value)
	}
}

// checkBot: the bot container's port is where SIDECAR_BOT_URL points, is
// none of the sidecar's, and the bot's security context is restricted.
func checkBot(t *testing.T, r *release, sidecar *corev1.Container) {
	t.Helper()
	bot := r.container(t, "bot")
	if len(bot.Ports) != 1 {
		t.Fatalf("bot ports = %+v; want one", bot.Ports)
	}
	port := bot.Ports[0].ContainerPort
	if slices.Contains([]int32{inboundPort, outboundPort, adminPort}, port) {
		t.Errorf("the bot's port %d is one of the sidecar's", port)
	}
	if got, wantPrefix := envValue(t, sidecar, "SIDECAR_BOT_URL"), "http://127.0.0.1:"+itoa(port)+"/"; !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("SIDECAR_BOT_URL = %s; want %s…", got, wantPrefix)
	}
	if bot.SecurityContext == nil {
		t.Fatal("the bot has no securityContext")
	}
	checkRestricted(t, "bot", bot.SecurityContext)
	for _, e := range bot.Env {
		if slices.Contains(credentialEnv, e.Name) {
			t.Errorf("the bot gets the credential %s; it needs none", e.Name)
		}
	}
}

// checkNoCanary fails when a canary value, or its base64 form, appears
// anywhere in the rendered manifests.
func checkNoCanary(t *testing.T, r *release, canary string) {
	t.Helper()
	for _, form := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary))} {
		if strings.Contains(r.manifests, form) {
			t.Errorf("the rendered manifests contain %q", form)
		}
	}
}

// checkNoPlainEnvValue fails when any container's plain env value contains
// s.
func checkNoPlainEnvValue(t *testing.T, r *release, s string) {
	t.Helper()
	for _, c := range r.pod().Containers {
		for _, e := range c.Env {
			if strings.Contains(e.Value, s) {
				t.Errorf("container %s: %s holds a secret as a plain value", c.Name, e.Name)
			}
		}
	}
}

// names lists the names of every object rendered.
func (r *release) names() []string {
	names := []string{r.deployment.Name}
	for _, s := range r.services {
		names = append(names, s.Name)
	}
	for _, s := range r.secrets {
		names = append(names, s.Name)
	}
	for _, s := range r.serviceAccounts {
		names = append(names, s.Name)
	}
	for _, s := range r.claims {
		names = append(names, s.Name)
	}
	for _, s := range r.serviceMonitors {
		names = append(names, s.Name)
	}
	return names
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
