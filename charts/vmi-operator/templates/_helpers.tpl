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

{{/*
The webhook's serving certificate and CA (base64 PEM) as JSON {crt, key, ca}, when the chart makes
them (certManager.enabled false): reused from the existing Secret on upgrade, else generated. Made
once per render and kept in .Values, so the Secret, the webhook configurations and the CRDs'
conversion, rendered from different files, carry the same CA.
*/}}
{{- define "vmi-operator.webhookPKI" -}}
{{- if not (hasKey .Values "__webhookPKI") }}
{{- $secretName := include "vmi-operator.webhookCertSecret" . }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName }}
{{- $crt := dig "data" "tls.crt" "" $existing }}
{{- $key := dig "data" "tls.key" "" $existing }}
{{- $ca := dig "data" "ca.crt" "" $existing }}
{{- if not (and $crt $key $ca) }}
{{- $fullname := include "vmi-operator.fullname" . }}
{{- $days := int .Values.webhook.selfSignedCertValidityDays }}
{{- $svc := include "vmi-operator.webhookService" . }}
{{- $caCert := genCA (printf "%s-webhook-ca" $fullname) $days }}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc .Release.Namespace) nil (include "vmi-operator.webhookDnsNames" . | fromYamlArray) $days $caCert }}
{{- $crt = $cert.Cert | b64enc }}
{{- $key = $cert.Key | b64enc }}
{{- $ca = $caCert.Cert | b64enc }}
{{- end }}
{{- $_ := set .Values "__webhookPKI" (dict "crt" $crt "key" $key "ca" $ca) }}
{{- end }}
{{- toJson (get .Values "__webhookPKI") }}
{{- end }}

{{/*
spec.conversion of the chart's CRDs: the operator's webhook Service at /convert, with the chart's
CA (or cert-manager's, injected through the CRD's annotation). Without the webhook: None (only
apiVersion changes; fields of other versions are lost), said in values.yaml.
*/}}
{{- define "vmi-operator.crdConversion" -}}
{{- if .Values.webhook.enabled }}
conversion:
  strategy: Webhook
  webhook:
    conversionReviewVersions: ["v1"]
    clientConfig:
      service:
        name: {{ include "vmi-operator.webhookService" . }}
        namespace: {{ .Release.Namespace }}
        path: /convert
        port: 443
      {{- if not .Values.certManager.enabled }}
      caBundle: {{ (include "vmi-operator.webhookPKI" . | fromJson).ca }}
      {{- end }}
{{- end }}
{{- end }}

{{/* The CRDs' cert-manager CA injection annotation, when cert-manager issues the certificate. */}}
{{- define "vmi-operator.crdAnnotations" -}}
{{- if and .Values.webhook.enabled .Values.certManager.enabled }}
cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "vmi-operator.servingCertificate" . }}
{{- end }}
{{- end }}
