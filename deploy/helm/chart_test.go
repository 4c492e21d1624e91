package helm_test

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestRenderInvariants renders every values file in testdata and checks
// what must always hold (invariants_test.go).
func TestRenderInvariants(t *testing.T) {
	t.Parallel()
	for _, file := range valuesFiles(t) {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			r := mustRender(t, file, nil)
			writeGolden(t, file, r)
			checkInvariants(t, r)
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "defaults.yaml", nil)
	sidecar := r.container(t, "sidecar")

	if n := deref(r.deployment.Spec.Replicas); n != 1 {
		t.Errorf("replicas = %d; want 1", n)
	}
	if got, want := envValue(t, sidecar, "SIDECAR_STORE"), "bolt:/var/lib/sidecar/data/references.db"; got != want {
		t.Errorf("SIDECAR_STORE = %s; want %s", got, want)
	}
	if len(r.claims) != 1 || r.claims[0].Spec.Resources.Requests.Storage().String() != "1Gi" {
		t.Errorf("claims = %+v; want one of 1Gi", r.claims)
	}
	// The chart's own Secret holds the client secret, which reaches the
	// sidecar as a file.
	if len(r.secrets) != 1 {
		t.Fatalf("%d Secrets; want the chart's one", len(r.secrets))
	}
	if got := string(r.secrets[0].Data["MicrosoftAppPassword"]); got != "SECRET-DEFAULTS-do-not-leak-1f3a" {
		t.Errorf("Secret MicrosoftAppPassword = %q; want the clientSecret value", got)
	}
	if got, want := envValue(t, sidecar, "SIDECAR_CLIENT_SECRET_FILE"), "/var/run/secrets/bot-sidecar/client-secret/client-secret"; got != want {
		t.Errorf("SIDECAR_CLIENT_SECRET_FILE = %s; want %s", got, want)
	}
	checkNoPlainEnvValue(t, r, "SECRET-DEFAULTS")
	for _, want := range []struct{ name, value string }{
		{"MicrosoftAppId", "11111111-2222-3333-4444-555555555555"},
		{"MicrosoftAppTenantId", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
		{"MicrosoftAppType", "SingleTenant"},
		{"SIDECAR_INBOUND_ADDR", ":3978"},
		{"SIDECAR_OUTBOUND_ADDR", "127.0.0.1:3979"},
		{"SIDECAR_ADMIN_ADDR", ":9090"},
		// /references holds personal data: loopback callers only.
		{"SIDECAR_ADMIN_REFERENCES", "loopback"},
		{"SIDECAR_BOT_URL", "http://127.0.0.1:3980/api/messages"},
	} {
		if got := envValue(t, sidecar, want.name); got != want.value {
			t.Errorf("%s = %q; want %q", want.name, got, want.value)
		}
	}
	// Stock Bot Framework samples listen on PORT, defaulting to 3978, the
	// sidecar's inbound port.
	if got := envValue(t, r.container(t, "bot"), "PORT"); got != "3980" {
		t.Errorf("bot PORT = %q; want 3980", got)
	}
	// Unset, the sidecar accepts Entra tokens (when asked to) from the bot's
	// own app only.
	for _, name := range []string{"SIDECAR_ACCEPT_ENTRA_TOKENS", "SIDECAR_ENTRA_TOKEN_APP_IDS"} {
		if env(sidecar, name) != nil {
			t.Errorf("%s is set with default values", name)
		}
	}
	if len(r.budgets)+len(r.networkPolicies)+len(r.serviceMonitors)+len(r.ingresses) != 0 {
		t.Error("optional objects rendered with default values")
	}
	if len(r.services) != 1 {
		t.Errorf("%d Services; want only the channel-facing one", len(r.services))
	}
	if deref(r.pod().AutomountServiceAccountToken) {
		t.Error("the Kubernetes API token is mounted; neither container needs it")
	}
	if _, ok := r.deployment.Spec.Template.Labels["azure.workload.identity/use"]; ok {
		t.Error("the workload identity label is set without workloadIdentity.enabled")
	}
}

func TestExistingSecret(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "existing-secret.yaml", nil)
	sidecar := r.container(t, "sidecar")

	// The values carry a clientSecret too; existingSecret wins, and the
	// value must be nowhere: not in env, not in a Secret, not in NOTES.
	const canary = "CANARY-existing-secret-must-not-render-7c1d"
	checkNoCanary(t, r, canary)
	if strings.Contains(r.notes, canary) {
		t.Error("NOTES.txt shows the client secret")
	}
	checkNoPlainEnvValue(t, r, canary)
	if len(r.secrets) != 0 {
		t.Errorf("the chart created %d Secrets; existingSecret needs none", len(r.secrets))
	}
	v := r.volume("client-secret")
	if v == nil || v.Secret == nil {
		t.Fatal("no client-secret volume")
	}
	if v.Secret.SecretName != "my-bot-credentials" || len(v.Secret.Items) != 1 || v.Secret.Items[0].Key != "password" {
		t.Errorf("client-secret volume = %+v; want key password of my-bot-credentials", v.Secret)
	}
	if env(sidecar, "SIDECAR_CLIENT_SECRET_FILE") == nil {
		t.Error("SIDECAR_CLIENT_SECRET_FILE not set")
	}
	if !strings.Contains(r.notes, "clientSecret is ignored") {
		t.Error("NOTES.txt does not warn that clientSecret is ignored")
	}
	if got := envValue(t, sidecar, "MicrosoftAppTenantId"); got != "contoso.onmicrosoft.com" {
		t.Errorf("MicrosoftAppTenantId = %q; want the domain given", got)
	}
}

func TestWorkloadIdentity(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "workload-identity.yaml", nil)
	sidecar := r.container(t, "sidecar")

	if got := r.deployment.Spec.Template.Labels["azure.workload.identity/use"]; got != "true" {
		t.Errorf("pod label azure.workload.identity/use = %q; want \"true\"", got)
	}
	if len(r.serviceAccounts) != 1 {
		t.Fatalf("%d ServiceAccounts; want 1", len(r.serviceAccounts))
	}
	sa := r.serviceAccounts[0]
	if got := sa.Annotations["azure.workload.identity/client-id"]; got != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("ServiceAccount client-id annotation = %q; want the app id", got)
	}
	if r.pod().ServiceAccountName != sa.Name {
		t.Errorf("the pod runs as %q, not the annotated ServiceAccount %q", r.pod().ServiceAccountName, sa.Name)
	}
	// Only the sidecar needs the federated token.
	if got := r.deployment.Spec.Template.Annotations["azure.workload.identity/skip-containers"]; got != "bot" {
		t.Errorf("skip-containers annotation = %q; want bot", got)
	}
	// No client secret anywhere: the webhook injects
	// AZURE_FEDERATED_TOKEN_FILE, and a second credential would stop the
	// sidecar.
	for _, name := range credentialEnv {
		if env(sidecar, name) != nil {
			t.Errorf("the sidecar gets %s; with workload identity it needs no credential of its own", name)
		}
	}
	if len(r.secrets) != 0 {
		t.Errorf("the chart created %d Secrets; workload identity needs none", len(r.secrets))
	}
	for _, v := range r.pod().Volumes {
		if v.Secret != nil {
			t.Errorf("secret volume %s mounted; workload identity needs none", v.Name)
		}
	}
	if got := envValue(t, sidecar, "MicrosoftAppTenantId"); got != "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" {
		// The sidecar refuses to start when the webhook's AZURE_TENANT_ID
		// disagrees; the ServiceAccount's tenant-id annotation makes the
		// webhook inject this tenant.
		t.Errorf("MicrosoftAppTenantId = %q; want the tenant", got)
	}
	if got := sa.Annotations["azure.workload.identity/tenant-id"]; got != "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" {
		t.Errorf("ServiceAccount tenant-id annotation = %q; want the tenant", got)
	}
}

// TestWorkloadIdentityOfAManagedIdentity: the ServiceAccount may name a
// managed identity the bot's app trusts; the sidecar reads it from the
// webhook's AZURE_CLIENT_ID.
func TestWorkloadIdentityOfAManagedIdentity(t *testing.T) {
	t.Parallel()
	const mi = "99999999-2222-3333-4444-555555555555"
	r := mustRender(t, "workload-identity.yaml", map[string]any{"workloadIdentity.clientId": mi})
	if len(r.serviceAccounts) != 1 {
		t.Fatalf("%d ServiceAccounts; want 1", len(r.serviceAccounts))
	}
	if got := r.serviceAccounts[0].Annotations["azure.workload.identity/client-id"]; got != mi {
		t.Errorf("ServiceAccount client-id annotation = %q; want %s", got, mi)
	}
	if got := envValue(t, r.container(t, "sidecar"), "MicrosoftAppId"); got != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("MicrosoftAppId = %q; want the bot's app id, not the identity's", got)
	}
}

func TestManagedIdentity(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "managed-identity.yaml", nil)
	sidecar := r.container(t, "sidecar")
	for _, name := range credentialEnv {
		if env(sidecar, name) != nil {
			t.Errorf("the sidecar gets %s; UserAssignedMSI takes no credential", name)
		}
	}
	if got := envValue(t, sidecar, "SIDECAR_STORE"); got != "memory:" {
		t.Errorf("SIDECAR_STORE = %q; want memory:", got)
	}
	if len(r.claims) != 0 || len(r.secrets) != 0 {
		t.Errorf("claims %d, secrets %d; want none", len(r.claims), len(r.secrets))
	}
}

func TestRedisReplicas(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "redis-3-replicas.yaml", nil)
	sidecar := r.container(t, "sidecar")

	if n := deref(r.deployment.Spec.Replicas); n != 3 {
		t.Errorf("replicas = %d; want 3", n)
	}
	if len(r.claims) != 0 || r.volume("references") != nil {
		t.Error("a bolt volume is rendered for the redis store")
	}
	e := env(sidecar, "SIDECAR_STORE")
	if e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Fatalf("SIDECAR_STORE = %+v; want a secretKeyRef", e)
	}
	ref := e.ValueFrom.SecretKeyRef
	if ref.Name != releaseName+"-bot-sidecar" || ref.Key != "SIDECAR_STORE" {
		t.Errorf("SIDECAR_STORE from %s/%s; want the chart's Secret, key SIDECAR_STORE", ref.Name, ref.Key)
	}
	if len(r.secrets) != 1 {
		t.Fatalf("%d Secrets; want 1", len(r.secrets))
	}
	url := string(r.secrets[0].Data["SIDECAR_STORE"])
	if url != "rediss://:CANARY-redis-password-5e8a@redis.example.internal:6380/0" {
		t.Errorf("Secret SIDECAR_STORE = %q; want the URL", url)
	}
	// The password is in the Secret only, never in plain text.
	if strings.Contains(r.manifests, "CANARY-redis-password") {
		t.Error("the Redis password appears in plain text")
	}
	checkNoPlainEnvValue(t, r, "CANARY-redis-password")
	if r.deployment.Spec.Strategy.Type != "" {
		t.Errorf("strategy = %q; want the default rolling update", r.deployment.Spec.Strategy.Type)
	}
}

func TestAllOptions(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "all-options.yaml", nil)
	sidecar := r.container(t, "sidecar")
	selector := r.deployment.Spec.Selector.MatchLabels

	t.Run("certificate", func(t *testing.T) {
		v := r.volume("client-certificate")
		if v == nil || v.Secret == nil || v.Secret.SecretName != "my-bot-certificate" || v.Secret.Items[0].Key != "tls-bundle.pem" {
			t.Fatalf("client-certificate volume = %+v", v)
		}
		if got := envValue(t, sidecar, "SIDECAR_CLIENT_CERT_FILE"); got != "/var/run/secrets/bot-sidecar/client-certificate/client.pem" {
			t.Errorf("SIDECAR_CLIENT_CERT_FILE = %s", got)
		}
		if len(r.secrets) != 0 {
			t.Errorf("%d Secrets rendered; every secret here is the user's", len(r.secrets))
		}
	})

	t.Run("metrics service and ServiceMonitor", func(t *testing.T) {
		metrics := r.service(releaseName + "-bot-sidecar-metrics")
		if metrics == nil {
			t.Fatal("no -metrics Service")
		}
		if len(metrics.Spec.Ports) != 1 || metrics.Spec.Ports[0].Name != "admin" || metrics.Spec.Ports[0].Port != adminPort {
			t.Errorf("-metrics Service ports = %+v; want admin 9090 only", metrics.Spec.Ports)
		}
		if metrics.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("-metrics Service type %s; want ClusterIP", metrics.Spec.Type)
		}
		if len(r.serviceMonitors) != 1 {
			t.Fatalf("%d ServiceMonitors; want 1", len(r.serviceMonitors))
		}
		sm := r.serviceMonitors[0]
		// The ServiceMonitor selects the -metrics Service and not the
		// channel-facing one.
		for _, svc := range r.services {
			matches := true
			for k, v := range sm.Spec.Selector.MatchLabels {
				matches = matches && svc.Labels[k] == v
			}
			if want := svc.Name == metrics.Name; matches != want {
				t.Errorf("ServiceMonitor selects Service %s: %v; want %v", svc.Name, matches, want)
			}
		}
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "admin" || sm.Spec.Endpoints[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints = %+v; want port admin, path /metrics", sm.Spec.Endpoints)
		}
		if sm.Labels["release"] != "kube-prometheus-stack" {
			t.Errorf("ServiceMonitor labels = %v; want the extra release label", sm.Labels)
		}
		if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
			t.Errorf("ServiceMonitor namespaces = %v; want [%s]", sm.Spec.NamespaceSelector.MatchNames, namespace)
		}
	})

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		if len(r.budgets) != 1 {
			t.Fatalf("%d PodDisruptionBudgets; want 1", len(r.budgets))
		}
		pdb := r.budgets[0].Spec
		if pdb.MinAvailable == nil || pdb.MinAvailable.IntValue() != 1 || pdb.MaxUnavailable != nil {
			t.Errorf("PDB minAvailable %v, maxUnavailable %v; want 1 and unset", pdb.MinAvailable, pdb.MaxUnavailable)
		}
	})

	t.Run("NetworkPolicy", func(t *testing.T) {
		if len(r.networkPolicies) != 1 {
			t.Fatalf("%d NetworkPolicies; want 1", len(r.networkPolicies))
		}
		np := r.networkPolicies[0].Spec
		if !slices.Equal(np.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
			t.Errorf("policyTypes = %v; want [Ingress]", np.PolicyTypes)
		}
		allowed := map[string][]string{}
		for _, rule := range np.Ingress {
			if len(rule.Ports) != 1 {
				t.Errorf("rule %+v: want exactly one port", rule)
				continue
			}
			port := rule.Ports[0].Port.String()
			for _, peer := range rule.From {
				if peer.NamespaceSelector != nil {
					allowed[port] = append(allowed[port], peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"])
				}
			}
			if len(rule.From) == 0 {
				allowed[port] = append(allowed[port], "anywhere")
			}
		}
		want := map[string][]string{"inbound": {"ingress-nginx"}, "admin": {"monitoring"}}
		if len(allowed) != len(want) || !slices.Equal(allowed["inbound"], want["inbound"]) || !slices.Equal(allowed["admin"], want["admin"]) {
			t.Errorf("NetworkPolicy admits %v; want %v", allowed, want)
		}
	})

	t.Run("Ingress", func(t *testing.T) {
		if len(r.ingresses) != 1 {
			t.Fatalf("%d Ingresses; want 1", len(r.ingresses))
		}
		ing := r.ingresses[0].Spec
		rule := ing.Rules[0]
		backend := rule.HTTP.Paths[0].Backend.Service
		if rule.Host != "bot.example.com" || rule.HTTP.Paths[0].Path != "/api/messages" ||
			backend.Name != releaseName+"-bot-sidecar" || backend.Port.Name != "inbound" {
			t.Errorf("Ingress rule = %+v; want bot.example.com/api/messages to the Service's inbound port", rule)
		}
		if deref(ing.IngressClassName) != "nginx" || len(ing.TLS) != 1 {
			t.Errorf("Ingress class %q, tls %+v", deref(ing.IngressClassName), ing.TLS)
		}
	})

	t.Run("sidecar settings", func(t *testing.T) {
		for _, want := range []struct{ name, value string }{
			{"SIDECAR_CLOUD", "usgov"},
			{"SIDECAR_TRUSTED_SERVICE_URLS", "smba.example.com,*.contoso.com"},
			{"SIDECAR_DEFAULT_SERVICE_URL", "https://smba.infra.gcc.teams.microsoft.com/teams/"},
			{"SIDECAR_ACCEPT_ENTRA_TOKENS", "true"},
			{"SIDECAR_ENTRA_TOKEN_APP_IDS", "11111111-2222-3333-4444-555555555555,7F0E7A9C-1D2B-4C3D-8E4F-0123456789AB"},
			{"SIDECAR_ADMIN_REFERENCES", "off"},
			{"SIDECAR_LOG_LEVEL", "debug"},
			{"SIDECAR_REFERENCE_TTL", "90d"},
			{"SIDECAR_BOT_URL", "http://127.0.0.1:8080/messages"},
		} {
			if got := envValue(t, sidecar, want.name); got != want.value {
				t.Errorf("%s = %q; want %q", want.name, got, want.value)
			}
		}
		if sidecar.Image != "ghcr.io/botsidecar/sidecar:1.2.3" {
			t.Errorf("sidecar image %s", sidecar.Image)
		}
		ref := env(sidecar, "SIDECAR_STORE").ValueFrom.SecretKeyRef
		if ref.Name != "my-redis" || ref.Key != "url" {
			t.Errorf("SIDECAR_STORE from %s/%s; want my-redis/url", ref.Name, ref.Key)
		}
		if sidecar.Lifecycle == nil || sidecar.Lifecycle.PreStop == nil || sidecar.Lifecycle.PreStop.Sleep == nil || sidecar.Lifecycle.PreStop.Sleep.Seconds != 3 {
			t.Errorf("sidecar lifecycle = %+v; want a 3 s preStop sleep", sidecar.Lifecycle)
		}
		// The bot's security context merges the user's runAsUser into
		// the restricted defaults.
		if got := deref(r.container(t, "bot").SecurityContext.RunAsUser); got != 1000 {
			t.Errorf("bot runAsUser = %d; want 1000", got)
		}
	})
	for k, v := range selector {
		if r.deployment.Spec.Template.Labels[k] != v {
			t.Errorf("pod lacks selector label %s", k)
		}
	}
}

// TestOptionalObjectsDefaults turns the optional objects on with their own
// defaults.
func TestOptionalObjectsDefaults(t *testing.T) {
	t.Parallel()
	r := mustRender(t, "defaults.yaml", map[string]any{
		"podDisruptionBudget.enabled": true,
		"networkPolicy.enabled":       true,
		"metrics.service.enabled":     true,
	})
	checkInvariants(t, r)
	if len(r.budgets) != 1 || r.budgets[0].Spec.MaxUnavailable == nil || r.budgets[0].Spec.MaxUnavailable.IntValue() != 1 || r.budgets[0].Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudgets = %+v; want one with maxUnavailable 1", r.budgets)
	}
	if r.service(releaseName+"-bot-sidecar-metrics") == nil || len(r.serviceMonitors) != 0 {
		t.Errorf("want the -metrics Service without a ServiceMonitor; got %d Services, %d ServiceMonitors", len(r.services), len(r.serviceMonitors))
	}
	if len(r.networkPolicies) != 1 {
		t.Fatalf("%d NetworkPolicies; want 1", len(r.networkPolicies))
	}
	for _, rule := range r.networkPolicies[0].Spec.Ingress {
		switch port := rule.Ports[0].Port.String(); port {
		case "inbound":
			if len(rule.From) != 0 {
				t.Errorf("inbound admitted from %+v; want anywhere by default", rule.From)
			}
		case "admin":
			if len(rule.From) != 1 || rule.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
				t.Errorf("admin admitted from %+v; want the monitoring namespace", rule.From)
			}
		default:
			t.Errorf("the NetworkPolicy admits port %s", port)
		}
	}
}
