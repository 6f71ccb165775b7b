{{/*
Chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "vmi-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Base name of every object: fullnameOverride, else the release name (so that release
vmware-system-vmop gives the names of config/default: vmware-system-vmop-controller-manager, ...).
At most 47 characters: "<fullname>-webhook-service" and "<fullname>-metrics-service" are DNS labels.
*/}}
{{- define "vmi-operator.fullname" -}}
{{- $name := default .Release.Name .Values.fullnameOverride | trimSuffix "-" }}
{{- if gt (len $name) 47 }}
{{- fail (printf "fullname %q is longer than 47 characters: set fullnameOverride" $name) }}
{{- end }}
{{- $name }}
{{- end }}

{{- define "vmi-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "vmi-operator.labels" -}}
helm.sh/chart: {{ include "vmi-operator.chart" . }}
{{ include "vmi-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vmi-operator
{{- end }}

{{/*
Selector labels of the controller manager's pods (immutable in the Deployment: never change them).
*/}}
{{- define "vmi-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vmi-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vmi-operator.controllerManager" -}}
{{ include "vmi-operator.fullname" . }}-controller-manager
{{- end }}

{{- define "vmi-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vmi-operator.controllerManager" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vmi-operator.webhookService" -}}
{{ include "vmi-operator.fullname" . }}-webhook-service
{{- end }}

{{- define "vmi-operator.metricsService" -}}
{{ include "vmi-operator.fullname" . }}-metrics-service
{{- end }}

{{/*
The Secret holding the webhook's serving certificate (tls.crt, tls.key, ca.crt).
*/}}
{{- define "vmi-operator.webhookCertSecret" -}}
{{ include "vmi-operator.fullname" . }}-webhook-server-cert
{{- end }}

{{- define "vmi-operator.servingCertificate" -}}
{{ include "vmi-operator.fullname" . }}-serving-cert
{{- end }}

{{- define "vmi-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "vmi-operator.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "vmi-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
DNS names of the webhook Service, for its serving certificate.
*/}}
{{- define "vmi-operator.webhookDnsNames" -}}
{{- $svc := include "vmi-operator.webhookService" . -}}
- {{ $svc }}
- {{ $svc }}.{{ .Release.Namespace }}
- {{ $svc }}.{{ .Release.Namespace }}.svc
- {{ $svc }}.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}

{{/*
namespaceSelector of the webhooks: webhook.namespaceSelector, else every namespace but kube-system
and the release namespace (the operator's own pods never wait on the operator).
*/}}
{{- define "vmi-operator.webhookNamespaceSelector" -}}
{{- if .Values.webhook.namespaceSelector }}
{{- toYaml .Values.webhook.namespaceSelector }}
{{- else -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: ["kube-system", {{ .Release.Namespace | quote }}]
{{- end }}
{{- end }}
