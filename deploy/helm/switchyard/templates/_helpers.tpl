{{/* Chart name, at most 63 characters (a DNS label). */}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: the release name, with the chart name appended unless the
release name already contains it.
*/}}
{{- define "switchyard.fullname" -}}
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

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: gateway
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The labels that select the pods: never change them in an upgrade. */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "switchyard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "switchyard.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{/*
The gateway's config.yaml: .Values.config without the chart's own `rollOnChange` key, plus
general_settings.drain_delay_seconds and grace_period_seconds from .Values.shutdown, and
general_settings.master_key and router_settings.redis_url pointing at the variables the chart
sets, each only when the config does not set it itself.
*/}}
{{- define "switchyard.configYaml" -}}
{{- $config := omit (deepCopy (.Values.config | default dict)) "rollOnChange" }}
{{- $general := get $config "general_settings" | default dict }}
{{- if not (hasKey $general "drain_delay_seconds") }}
{{- $_ := set $general "drain_delay_seconds" .Values.shutdown.drainDelaySeconds }}
{{- end }}
{{- if not (hasKey $general "grace_period_seconds") }}
{{- $_ := set $general "grace_period_seconds" .Values.shutdown.gracePeriodSeconds }}
{{- end }}
{{- $_ := set $config "general_settings" $general }}
{{- if .Values.masterKey.existingSecret }}
{{- $general := get $config "general_settings" | default dict }}
{{- if not (hasKey $general "master_key") }}
{{- $_ := set $general "master_key" "os.environ/SWITCHYARD_MASTER_KEY" }}
{{- end }}
{{- $_ := set $config "general_settings" $general }}
{{- end }}
{{- if include "switchyard.redisEnabled" . }}
{{- $router := get $config "router_settings" | default dict }}
{{- if not (or (hasKey $router "redis_url") (hasKey $router "redis_host")) }}
{{- $_ := set $router "redis_url" "os.environ/REDIS_URL" }}
{{- end }}
{{- $_ := set $config "router_settings" $router }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* An environment variable from a plain value or from a key of an existing Secret. */}}
{{- define "switchyard.valueOrSecretEnv" -}}
{{- $name := index . 0 }}
{{- $source := index . 1 }}
{{- if $source.existingSecret }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $source.existingSecret }}
      key: {{ $source.key }}
{{- else if $source.url }}
- name: {{ $name }}
  value: {{ $source.url | quote }}
{{- end }}
{{- end }}

{{/*
The pod's terminationGracePeriodSeconds: the value when set, else the config's drain delay and
grace period (as rendered) plus 15 s for the spend and trace flush.
*/}}
{{- define "switchyard.terminationGracePeriodSeconds" -}}
{{- if ne (toString .Values.terminationGracePeriodSeconds) "" }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- $general := (include "switchyard.configYaml" . | fromYaml).general_settings }}
{{- add (ceil $general.drain_delay_seconds) (ceil $general.grace_period_seconds) 15 }}
{{- end }}
{{- end }}
