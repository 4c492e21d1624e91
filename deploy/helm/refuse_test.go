package helm_test

import (
	"strings"
	"testing"
)

// TestRefusedValues: values that would deploy a broken or unsafe bot fail
// to render, with a message that says what to change.
func TestRefusedValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		give map[string]any
		want string
	}{
		{
			name: "bolt with three replicas",
			file: "defaults.yaml",
			give: map[string]any{"replicaCount": 3},
			want: "bolt stores references in a file on one volume; use store.type=redis for replicaCount > 1",
		},
		{
			name: "memory with two replicas",
			file: "defaults.yaml",
			give: map[string]any{"replicaCount": 2, "store.type": "memory"},
			want: "use store.type=redis for replicaCount > 1",
		},
		{
			name: "redis without a URL",
			file: "defaults.yaml",
			give: map[string]any{"store.type": "redis"},
			want: "store.type=redis needs store.redis.url or store.redis.existingSecret",
		},
		{
			name: "no credential",
			file: "defaults.yaml",
			give: map[string]any{"clientSecret": ""},
			want: "no credential: set clientSecret, existingSecret, clientCertificate.existingSecret or workloadIdentity.enabled=true",
		},
		{
			name: "workload identity and a client secret",
			file: "workload-identity.yaml",
			give: map[string]any{"clientSecret": "s"},
			want: "more than one credential is set (clientSecret/existingSecret, workloadIdentity.enabled)",
		},
		{
			name: "certificate and a client secret",
			file: "defaults.yaml",
			give: map[string]any{"clientCertificate.existingSecret": "cert"},
			want: "more than one credential is set",
		},
		{
			name: "workload identity with UserAssignedMSI",
			file: "workload-identity.yaml",
			give: map[string]any{"appType": "UserAssignedMSI"},
			want: "appType=UserAssignedMSI takes no credential",
		},
		{
			name: "single tenant without a tenant",
			file: "defaults.yaml",
			give: map[string]any{"tenantId": ""},
			want: "tenantId is required for appType=SingleTenant",
		},
		{
			name: "bot on the sidecar's outbound port",
			file: "defaults.yaml",
			give: map[string]any{"bot.port": 3979},
			want: "bot.port 3979 is taken by the sidecar",
		},
		{
			name: "grace longer than the pod's",
			file: "defaults.yaml",
			give: map[string]any{"sidecar.preStopSleepSeconds": 5},
			want: "terminationGracePeriodSeconds (30) must exceed sidecar.preStopSleepSeconds + sidecar.shutdownGraceSeconds (30)",
		},
		// What an install needs and the chart's defaults lack: helm lint
		// passes without them (TestLintChartDefaults), rendering does not.
		{
			name: "the chart's defaults only",
			file: "",
			want: "appId is required: set appId to the bot's Entra app (client) id",
		},
		{
			name: "no app id",
			file: "",
			give: map[string]any{"bot.image.repository": "bot", "clientSecret": "s", "tenantId": "t"},
			want: "appId is required: set appId to the bot's Entra app (client) id",
		},
		{
			name: "no bot image",
			file: "defaults.yaml",
			give: map[string]any{"bot.image.repository": ""},
			want: "bot.image.repository is required: set it to your bot's image",
		},
		{
			name: "no bot image, nothing else set",
			file: "",
			give: map[string]any{"appId": "11111111-2222-3333-4444-555555555555"},
			want: "bot.image.repository is required: set it to your bot's image",
		},
		// The schema's refusals.
		{
			name: "app id not a GUID",
			file: "defaults.yaml",
			give: map[string]any{"appId": "my-bot"},
			want: "appId",
		},
		{
			name: "unknown app type",
			file: "defaults.yaml",
			give: map[string]any{"appType": "SingleTennant"},
			want: "appType",
		},
		{
			name: "admin references open to a made-up audience",
			file: "defaults.yaml",
			give: map[string]any{"sidecar.adminReferences": "public"},
			want: "adminReferences",
		},
		{
			name: "unknown store",
			file: "defaults.yaml",
			give: map[string]any{"store.type": "etcd"},
			want: "store",
		},
		{
			name: "replica count as a string",
			file: "defaults.yaml",
			give: map[string]any{"replicaCount": "3"},
			want: "replicaCount",
		},
		{
			name: "misspelt value",
			file: "defaults.yaml",
			give: map[string]any{"replicas": 3},
			want: "replicas",
		},
		{
			name: "entra token app id not a GUID",
			file: "defaults.yaml",
			give: map[string]any{"sidecar.acceptEntraTokens": true, "sidecar.entraTokenAppIds": []any{"my-other-bot"}},
			want: "entraTokenAppIds",
		},
		{
			name: "entra token app ids without accepting entra tokens",
			file: "defaults.yaml",
			give: map[string]any{"sidecar.entraTokenAppIds": []any{"7f0e7a9c-1d2b-4c3d-8e4f-0123456789ab"}},
			want: "sidecar.acceptEntraTokens=true",
		},
		{
			name: "redis URL of another scheme",
			file: "redis-3-replicas.yaml",
			give: map[string]any{"store.redis.url": "http://redis:6379"},
			want: "url",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := render(tt.file, tt.give)
			if err == nil {
				t.Fatalf("render(%q, %v) succeeded; want an error containing %q", tt.file, tt.give, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render(%q, %v) = %v; want an error containing %q", tt.file, tt.give, err, tt.want)
			}
		})
	}
}
