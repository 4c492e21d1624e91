{{/*
Names. The chart name and the release's full name, truncated to the 63
characters Kubernetes allows in a name or label value.
*/}}
{{- define "bot-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bot-sidecar.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The -metrics Service's name: the full name, cut so that the suffix fits. */}}
{{- define "bot-sidecar.metricsName" -}}
{{- printf "%s-metrics" (include "bot-sidecar.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "bot-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "bot-sidecar.labels" -}}
helm.sh/chart: {{ include "bot-sidecar.chart" . }}
{{ include "bot-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the pods; they never change after install. */}}
{{- define "bot-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bot-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bot-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bot-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The client id the workload identity webhook gets: the bot's app id. */}}
{{- define "bot-sidecar.workloadIdentityClientId" -}}
{{- default .Values.appId .Values.workloadIdentity.clientId }}
{{- end }}

{{- define "bot-sidecar.botImage" -}}
{{- printf "%s:%s" .Values.bot.image.repository (default "latest" .Values.bot.image.tag) }}
{{- end }}

{{- define "bot-sidecar.sidecarImage" -}}
{{- printf "%s:%s" .Values.sidecar.image.repository (default .Chart.AppVersion .Values.sidecar.image.tag) }}
{{- end }}

{{/*
Credential: which one the sidecar uses, "secret", "certificate",
"workloadIdentity" or "managedIdentity". bot-sidecar.validate has already
refused zero or several.
*/}}
{{- define "bot-sidecar.credential" -}}
{{- if .Values.workloadIdentity.enabled }}workloadIdentity
{{- else if eq .Values.appType "UserAssignedMSI" }}managedIdentity
{{- else if .Values.clientCertificate.existingSecret }}certificate
{{- else }}secret
{{- end }}
{{- end }}

{{/* The Secret holding the client secret: the user's, or the chart's. */}}
{{- define "bot-sidecar.clientSecretName" -}}
{{- default (include "bot-sidecar.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "bot-sidecar.clientSecretKey" -}}
{{- if .Values.existingSecret }}{{ .Values.existingSecretKey }}{{ else }}MicrosoftAppPassword{{ end }}
{{- end }}

{{/* The Secret holding the Redis URL: the user's, or the chart's. */}}
{{- define "bot-sidecar.redisSecretName" -}}
{{- default (include "bot-sidecar.fullname" .) .Values.store.redis.existingSecret }}
{{- end }}

{{- define "bot-sidecar.redisSecretKey" -}}
{{- if .Values.store.redis.existingSecret }}{{ .Values.store.redis.existingSecretKey }}{{ else }}SIDECAR_STORE{{ end }}
{{- end }}

{{/* Whether the chart creates its own Secret, and for what. */}}
{{- define "bot-sidecar.chartSecretClientSecret" -}}
{{- if and (eq (include "bot-sidecar.credential" .) "secret") (not .Values.existingSecret) }}true{{ end }}
{{- end }}

{{- define "bot-sidecar.chartSecretRedis" -}}
{{- if and (eq .Values.store.type "redis") (not .Values.store.redis.existingSecret) }}true{{ end }}
{{- end }}

{{/* Where the bolt file lives: the image's working directory's data/. */}}
{{- define "bot-sidecar.boltDir" -}}
/var/lib/sidecar/data
{{- end }}

{{/* Mount points of the credential files (one directory per volume). */}}
{{- define "bot-sidecar.secretDir" -}}
/var/run/secrets/bot-sidecar/client-secret
{{- end }}

{{- define "bot-sidecar.certDir" -}}
/var/run/secrets/bot-sidecar/client-certificate
{{- end }}

{{/*
Validation: everything the schema cannot say, with a message that says what
to change. Rendering stops at the first failure. The values a user must
supply are empty in values.yaml and checked here with required and fail
rather than by the schema: helm lint (Helm's engine in lint mode) reports
those as information, so the chart's defaults lint clean, while install and
template stop with the message.
*/}}
{{- define "bot-sidecar.validate" -}}
{{- $v := .Values }}
{{- $_ := required "appId is required: set appId to the bot's Entra app (client) id, a GUID (--set appId=<app id>)" $v.appId }}
{{- $_ = required "bot.image.repository is required: set it to your bot's image (--set bot.image.repository=myregistry.azurecr.io/my-bot)" $v.bot.image.repository }}
{{- $replicas := int $v.replicaCount }}
{{- if and (eq $v.store.type "bolt") (gt $replicas 1) }}
{{- fail "bolt stores references in a file on one volume; use store.type=redis for replicaCount > 1" }}
{{- end }}
{{- if and (eq $v.store.type "memory") (gt $replicas 1) }}
{{- fail "memory keeps references in one process, so replicas would not share them; use store.type=redis for replicaCount > 1" }}
{{- end }}
{{- if and (eq $v.store.type "redis") (not $v.store.redis.url) (not $v.store.redis.existingSecret) }}
{{- fail "store.type=redis needs store.redis.url or store.redis.existingSecret" }}
{{- end }}
{{- if and $v.sidecar.entraTokenAppIds (not $v.sidecar.acceptEntraTokens) }}
{{- fail "sidecar.entraTokenAppIds has no effect without sidecar.acceptEntraTokens=true" }}
{{- end }}
{{- if and (not $v.tenantId) (ne $v.appType "MultiTenant") }}
{{- fail (printf "tenantId is required for appType=%s (the bot's Entra tenant id)" $v.appType) }}
{{- end }}
{{- $creds := list }}
{{- if or $v.clientSecret $v.existingSecret }}{{ $creds = append $creds "clientSecret/existingSecret" }}{{ end }}
{{- if $v.clientCertificate.existingSecret }}{{ $creds = append $creds "clientCertificate.existingSecret" }}{{ end }}
{{- if $v.workloadIdentity.enabled }}{{ $creds = append $creds "workloadIdentity.enabled" }}{{ end }}
{{- if eq $v.appType "UserAssignedMSI" }}{{ $creds = append $creds "appType=UserAssignedMSI" }}{{ end }}
{{- if and $v.workloadIdentity.enabled (eq $v.appType "UserAssignedMSI") }}
{{- fail "workloadIdentity.enabled uses the federated token as the bot app's client assertion, which needs appType SingleTenant (or MultiTenant); appType=UserAssignedMSI takes no credential" }}
{{- end }}
{{- if eq (len $creds) 0 }}
{{- fail "no credential: set clientSecret, existingSecret, clientCertificate.existingSecret or workloadIdentity.enabled=true (or use appType=UserAssignedMSI)" }}
{{- end }}
{{- if gt (len $creds) 1 }}
{{- fail (printf "more than one credential is set (%s); keep exactly one, the sidecar refuses to start otherwise" (join ", " $creds)) }}
{{- end }}
{{- if has (int $v.bot.port) (list 3978 3979 9090) }}
{{- fail (printf "bot.port %d is taken by the sidecar in the same pod (3978 inbound, 3979 outbound, 9090 admin); use another, such as 3980" (int $v.bot.port)) }}
{{- end }}
{{- $busy := add (int $v.sidecar.preStopSleepSeconds) (int $v.sidecar.shutdownGraceSeconds) }}
{{- if ge $busy (int $v.terminationGracePeriodSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed sidecar.preStopSleepSeconds + sidecar.shutdownGraceSeconds (%d), or Kubernetes kills the sidecar before its in-flight calls finish" (int $v.terminationGracePeriodSeconds) $busy) }}
{{- end }}
{{- end }}
