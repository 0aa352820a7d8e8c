{{/* Names and labels shared by every template. */}}
{{- define "sluice.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) -}}
{{- end -}}

{{- define "sluice.runtimeImage" -}}
{{- printf "%s:%s" .Values.runtime.image.repository (default .Chart.AppVersion .Values.runtime.image.tag) -}}
{{- end -}}

{{- define "sluice.gatewayName" -}}
{{- printf "%s-gateway" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "sluice.gatewayImage" -}}
{{- printf "%s:%s" .Values.gateway.image.repository (default .Chart.AppVersion .Values.gateway.image.tag) -}}
{{- end -}}

{{/* The URL Functions get in status.url: gateway.publicUrl, else the Service's in-cluster address. */}}
{{- define "sluice.gatewayUrl" -}}
{{- if .Values.gateway.publicUrl -}}
{{- .Values.gateway.publicUrl -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%d" (include "sluice.gatewayName" .) .Release.Namespace (int .Values.gateway.service.port) -}}
{{- end -}}
{{- end -}}

{{/* operator.watchNamespace as a list: a string (one namespace, or several comma-separated) or a list; empty: every namespace. */}}
{{- define "sluice.watchNamespaceList" -}}
{{- $value := .Values.operator.watchNamespace -}}
{{- $list := list -}}
{{- if kindIs "string" $value -}}
{{- range splitList "," $value -}}{{- if trim . -}}{{- $list = append $list (trim .) -}}{{- end -}}{{- end -}}
{{- else -}}
{{- $list = $value | default list -}}
{{- end -}}
{{- toJson (uniq $list) -}}
{{- end -}}

{{/* The same, comma-separated, for --watch-namespace. */}}
{{- define "sluice.watchNamespaces" -}}
{{- join "," (include "sluice.watchNamespaceList" . | fromJsonArray) -}}
{{- end -}}

{{/* The Secret holding the invoke master key (runtime.tokens). */}}
{{- define "sluice.invokeKeySecret" -}}
{{- default (printf "%s-invoke-key" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-") .Values.runtime.tokens.invokeKeySecret -}}
{{- end }}

{{/* The Secret (release namespace) the operator keeps the control port's CA in (runtime.controlTls). */}}
{{- define "sluice.controlCaSecret" -}}
{{- default (printf "%s-control-ca" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-") .Values.runtime.controlTls.caSecret -}}
{{- end }}

{{/* The admission webhook's Service, CA Secret and ValidatingWebhookConfiguration (webhook.enabled). */}}
{{- define "sluice.webhookName" -}}
{{- printf "%s-webhook" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "sluice.webhookCaSecret" -}}
{{- printf "%s-webhook-ca" (include "sluice.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "sluice.webhookConfigurationName" -}}
{{- printf "%s.%s.sluice.io" (include "sluice.fullname" .) .Release.Namespace -}}
{{- end }}

{{/* The wildcard host of gateway.domain ("*.fn.example.com", its port dropped); empty without a domain. */}}
{{- define "sluice.gatewayWildcardHost" -}}
{{- with .Values.gateway.domain -}}
{{- printf "*.%s" (first (splitList ":" .)) -}}
{{- end -}}
{{- end -}}
