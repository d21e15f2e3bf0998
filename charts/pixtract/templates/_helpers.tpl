{{/*
Names, labels and the environment every Pixtract container shares. The per-service
resources are in _service.tpl; each templates/<service>.yaml passes what is particular to it.
*/}}

{{- define "pixtract.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's resources: <fullname>-<component>. Args: root, component. */}}
{{- define "pixtract.componentName" -}}
{{- printf "%s-%s" (include "pixtract.fullname" .root) .component -}}
{{- end -}}

{{- define "pixtract.selectorLabels" -}}
app.kubernetes.io/name: {{ default .root.Chart.Name .root.Values.nameOverride }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Args: root, component. */}}
{{- define "pixtract.labels" -}}
{{ include "pixtract.selectorLabels" . }}
app.kubernetes.io/part-of: pixtract
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selects every Pixtract pod of this release (service-to-service traffic). */}}
{{- define "pixtract.releasePodLabels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Image reference. Args: root, name, image (the service's image overrides). */}}
{{- define "pixtract.image" -}}
{{- $repository := .image.repository | default (printf "%s/%s" .root.Values.image.registry .name) -}}
{{- $tag := .image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/*
Deep merge as JSON, `over` winning at every level. Sprig's mergeOverwrite would not let a
service's `false` or `0` override a default `true` (mergo skips empty values).
Args: base, over.
*/}}
{{- define "pixtract.deepMerge" -}}
{{- $out := deepCopy .base -}}
{{- range $key, $value := .over -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $out $key)) -}}
{{- $_ := set $out $key (fromJson (include "pixtract.deepMerge" (dict "base" (get $out $key) "over" $value))) -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* One service's values: serviceDefaults overridden by services.<name>, as JSON. Args: root, name. */}}
{{- define "pixtract.serviceValues" -}}
{{- include "pixtract.deepMerge" (dict "base" .root.Values.serviceDefaults "over" (get .root.Values.services .name)) -}}
{{- end -}}

{{/* http://<fullname>-<service>:<port>. Args: root, name. */}}
{{- define "pixtract.serviceUrl" -}}
{{- $svc := fromJson (include "pixtract.serviceValues" .) -}}
{{- printf "http://%s:%v" (include "pixtract.componentName" (dict "root" .root "component" .name)) $svc.port -}}
{{- end -}}

{{/* The routes file (deploy/routes.yaml, linked into files/), parsed. */}}
{{- define "pixtract.routes" -}}
{{- .Files.Get "files/routes.yaml" | required "files/routes.yaml is missing from the chart" -}}
{{- end -}}

{{/* Services that own at least one public route, as a JSON list. */}}
{{- define "pixtract.publicServices" -}}
{{- $names := list -}}
{{- range (fromYaml (include "pixtract.routes" .)).routes -}}
{{- $names = append $names .service -}}
{{- end -}}
{{- $names | uniq | toJson -}}
{{- end -}}

{{/* A secretKeyRef env var. Args: name, secret, key. */}}
{{- define "pixtract.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* Kafka connection env for settings prefix `prefix` (e.g. PIXTRACT_UPLOAD_). Args: root, prefix. */}}
{{- define "pixtract.kafkaEnv" -}}
{{- $k := .root.Values.externalKafka -}}
- name: {{ .prefix }}KAFKA__BOOTSTRAP_SERVERS
  value: {{ $k.bootstrapServers | quote }}
- name: {{ .prefix }}KAFKA__ENABLE_IDEMPOTENCE
  value: {{ $k.enableIdempotence | quote }}
- name: {{ .prefix }}KAFKA__SECURITY_PROTOCOL
  value: {{ $k.securityProtocol | quote }}
{{- if $k.sasl.mechanism }}
- name: {{ .prefix }}KAFKA__SASL_MECHANISM
  value: {{ $k.sasl.mechanism | quote }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sKAFKA__SASL_USERNAME" .prefix) "secret" $k.sasl.existingSecret "key" $k.sasl.usernameKey) }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sKAFKA__SASL_PASSWORD" .prefix) "secret" $k.sasl.existingSecret "key" $k.sasl.passwordKey) }}
{{- end }}
{{- if $k.tls.caSecret }}
- name: {{ .prefix }}KAFKA__SSL_CAFILE
  value: /etc/pixtract/kafka-ca/{{ $k.tls.caKey }}
{{- end }}
{{- end -}}

{{/* Volumes (and mounts) the Kafka connection needs: a private CA, when one is given. */}}
{{- define "pixtract.kafkaVolumes" -}}
{{- if .Values.externalKafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.externalKafka.tls.caSecret }}
    defaultMode: 0444
{{- end }}
{{- end -}}

{{- define "pixtract.kafkaVolumeMounts" -}}
{{- if .Values.externalKafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/pixtract/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{- define "pixtract.mongoEnv" -}}
{{- $m := .root.Values.externalMongo -}}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sMONGO__URL" .prefix) "secret" $m.existingSecret "key" $m.urlKey) }}
{{- with (get $m.databases .name) }}
- name: {{ $.prefix }}MONGO__DATABASE
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "pixtract.s3Env" -}}
{{- $s := .root.Values.externalS3 -}}
- name: {{ .prefix }}S3__ENDPOINT_URL
  value: {{ $s.endpointUrl | quote }}
- name: {{ .prefix }}S3__REGION
  value: {{ $s.region | quote }}
- name: {{ .prefix }}S3__BUCKET
  value: {{ $s.bucket | quote }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sS3__ACCESS_KEY_ID" .prefix) "secret" $s.existingSecret "key" $s.accessKeyIdKey) }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sS3__SECRET_ACCESS_KEY" .prefix) "secret" $s.existingSecret "key" $s.secretAccessKeyKey) }}
{{- end -}}

{{- define "pixtract.openSearchEnv" -}}
{{- $o := .root.Values.externalOpenSearch -}}
- name: {{ .prefix }}OPENSEARCH__URL
  value: {{ $o.url | quote }}
- name: {{ .prefix }}OPENSEARCH__INDEX_ALIAS
  value: {{ $o.indexAlias | quote }}
- name: {{ .prefix }}OPENSEARCH__VERIFY_CERTS
  value: {{ $o.verifyCerts | quote }}
{{- if $o.existingSecret }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sOPENSEARCH__USERNAME" .prefix) "secret" $o.existingSecret "key" $o.usernameKey) }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sOPENSEARCH__PASSWORD" .prefix) "secret" $o.existingSecret "key" $o.passwordKey) }}
{{- end }}
{{- end -}}

{{/* How a service verifies tokens: the auth service's JWKS and API-key introspection. */}}
{{- define "pixtract.tokenEnv" -}}
{{- $auth := include "pixtract.serviceUrl" (dict "root" .root "name" "auth") -}}
- name: {{ .prefix }}AUTH__JWKS_URL
  value: {{ printf "%s/.well-known/jwks.json" $auth | quote }}
- name: {{ .prefix }}AUTH__INTROSPECT_URL
  value: {{ printf "%s/internal/v1/api-keys/introspect" $auth | quote }}
- name: {{ .prefix }}AUTH__ISSUER
  value: {{ .root.Values.jwt.issuer | quote }}
- name: {{ .prefix }}AUTH__AUDIENCE
  value: {{ .root.Values.jwt.audience | quote }}
{{- end -}}

{{/* Pod security shared by every pod of the chart. */}}
{{- define "pixtract.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "pixtract.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end -}}
