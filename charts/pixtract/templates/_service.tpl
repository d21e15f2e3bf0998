{{/*
One Pixtract service: ServiceAccount, Deployment, Service, PodDisruptionBudget,
NetworkPolicy, and either an HPA or (KEDA on) a ScaledObject; a ServiceMonitor when asked.
Called once per service by templates/<service>.yaml with:
  root      the chart's root context
  name      the service (auth, upload, ...): its image, `python -m pixtract.<name>`, PIXTRACT_<NAME>_ env
  backends  what it connects to: any of kafka, mongo, s3, opensearch, tokens (verifies access
            tokens), internal (serves or calls /internal/ endpoints with the shared token)
  clients   the other services that call it over HTTP (allowed by its NetworkPolicy)
  env       extra env entries particular to the service (YAML list, may be empty)
  volumes, volumeMounts   extra volumes particular to the service (YAML lists, may be empty)
*/}}
{{- define "pixtract.service" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := fromJson (include "pixtract.serviceValues" (dict "root" $root "name" $name)) -}}
{{- if $svc.enabled -}}
{{- $fullname := include "pixtract.componentName" (dict "root" $root "component" $name) -}}
{{- $ctx := dict "root" $root "component" $name -}}
{{- $prefix := printf "PIXTRACT_%s_" (upper $name) -}}
{{- $envArgs := dict "root" $root "prefix" $prefix "name" $name -}}
{{- $public := has $name (fromJsonArray (include "pixtract.publicServices" $root)) -}}
{{- $keda := and $root.Values.keda.enabled $svc.keda $svc.keda.enabled -}}
{{- $values := $root.Values -}}
{{- if $svc.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
  {{- with $svc.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# Pixtract never calls the Kubernetes API.
automountServiceAccountToken: false
---
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  {{- if not (or $svc.autoscaling.enabled $keda) }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "pixtract.selectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  template:
    metadata:
      labels:
        {{- include "pixtract.labels" $ctx | nindent 8 }}
      annotations:
        {{- if $values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $svc.port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ $svc.serviceAccount.create | ternary $fullname "default" }}
      automountServiceAccountToken: false
      {{- with $values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- include "pixtract.podSecurityContext" $root | nindent 8 }}
      # uvicorn drains requests (20 s), then the consumer finishes its batch and commits (25 s).
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      {{- with $svc.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $svc.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: 1
          topologyKey: {{ $key }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "pixtract.selectorLabels" $ctx | nindent 14 }}
          matchLabelKeys: [pod-template-hash]
        {{- end }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "pixtract.image" (dict "root" $root "name" $name "image" $svc.image) | quote }}
          imagePullPolicy: {{ $values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
              protocol: TCP
          env:
            {{- include "pixtract.serviceEnv" . | nindent 12 }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: {{ $svc.startupProbe.periodSeconds }}
            failureThreshold: {{ $svc.startupProbe.failureThreshold }}
            timeoutSeconds: 3
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          # /readyz checks every backend with a 2 s timeout each.
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 3
          lifecycle:
            # Let endpoints and the ingress stop sending before uvicorn stops accepting.
            preStop:
              exec:
                command: ["python", "-c", "import time; time.sleep({{ $svc.preStopSleepSeconds }})"]
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- include "pixtract.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if has "kafka" .backends }}
            {{- with (include "pixtract.kafkaVolumeMounts" $root | trim) }}{{ . | nindent 12 }}{{- end }}
            {{- end }}
            {{- with .volumeMounts }}
            {{- . | trim | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $svc.tmpSizeLimit }}
        {{- if has "kafka" .backends }}
        {{- with (include "pixtract.kafkaVolumes" $root | trim) }}{{ . | nindent 8 }}{{- end }}
        {{- end }}
        {{- with .volumes }}
        {{- . | trim | nindent 8 }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "pixtract.selectorLabels" $ctx | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: http
      protocol: TCP
{{- if $svc.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  {{- if $svc.pdb.minAvailable }}
  minAvailable: {{ $svc.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $svc.pdb.maxUnavailable }}
  {{- end }}
  # A crash-looping pod must not block node drains.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "pixtract.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $values.networkPolicy.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "pixtract.selectorLabels" $ctx | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $values.networkPolicy.egress.enabled }}
    - Egress
    {{- end }}
  {{- $np := $values.networkPolicy }}
  {{- if not (or .clients (and $public $np.ingressFrom) $np.metricsFrom $np.extraIngress) }}
  # Nobody needs to reach this service: deny all ingress.
  ingress: []
  {{- else }}
  ingress:
    {{- if .clients }}
    # Pixtract services that call this one.
    - from:
        {{- range .clients }}
        - podSelector:
            matchLabels:
              {{- include "pixtract.selectorLabels" (dict "root" $root "component" .) | nindent 14 }}
        {{- end }}
      ports:
        - port: http
    {{- end }}
    {{- if and $public $values.networkPolicy.ingressFrom }}
    # The ingress controller (this service owns public routes).
    - from:
        {{- toYaml $values.networkPolicy.ingressFrom | nindent 8 }}
      ports:
        - port: http
    {{- end }}
    {{- with $values.networkPolicy.metricsFrom }}
    # Prometheus scraping /metrics.
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - port: http
    {{- end }}
    {{- with $values.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- if $values.networkPolicy.egress.enabled }}
  egress:
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - {port: 53, protocol: UDP}
        - {port: 53, protocol: TCP}
    - to:
        - podSelector:
            matchLabels:
              {{- include "pixtract.releasePodLabels" $root | nindent 14 }}
    {{- with $values.networkPolicy.egress.rules }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- if $keda }}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    name: {{ $fullname }}
  minReplicaCount: {{ $svc.keda.minReplicaCount }}
  maxReplicaCount: {{ $svc.keda.maxReplicaCount }}
  pollingInterval: {{ $svc.keda.pollingInterval }}
  cooldownPeriod: {{ $svc.keda.cooldownPeriod }}
  triggers:
    - type: kafka
      metadata:
        bootstrapServers: {{ $values.externalKafka.bootstrapServers | quote }}
        # The service's consumer group is its name.
        consumerGroup: {{ $name }}
        topic: {{ $svc.keda.topic }}
        lagThreshold: {{ $svc.keda.lagThreshold | quote }}
        offsetResetPolicy: earliest
        {{- with (include "pixtract.kedaKafkaAuthMetadata" $root) }}
        {{- . | trim | nindent 8 }}
        {{- end }}
      {{- if or $values.externalKafka.sasl.mechanism $values.externalKafka.tls.caSecret }}
      authenticationRef:
        name: {{ include "pixtract.componentName" (dict "root" $root "component" "kafka") }}
      {{- end }}
    {{- with $svc.autoscaling.targetCPUUtilizationPercentage }}
    - type: cpu
      metricType: Utilization
      metadata:
        value: {{ . | quote }}
    {{- end }}
{{- else if $svc.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $fullname }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $svc.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if $values.metrics.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "pixtract.labels" $ctx | nindent 4 }}
    {{- with $values.metrics.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "pixtract.selectorLabels" $ctx | nindent 6 }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ $values.metrics.serviceMonitor.interval }}
{{- end }}
{{- end }}
{{- end -}}

{{/* KEDA's Kafka trigger metadata for SASL and TLS, from externalKafka. */}}
{{- define "pixtract.kedaKafkaAuthMetadata" -}}
{{- $k := .Values.externalKafka -}}
{{- $mechanisms := dict "PLAIN" "plaintext" "SCRAM-SHA-256" "scram_sha256" "SCRAM-SHA-512" "scram_sha512" -}}
{{- if $k.sasl.mechanism }}
sasl: {{ get $mechanisms $k.sasl.mechanism }}
{{- end }}
{{- if has $k.securityProtocol (list "SSL" "SASL_SSL") }}
tls: enable
{{- end }}
{{- end -}}


{{/* The env of a service's container (its Deployment and its Jobs). Args: as pixtract.service. */}}
{{- define "pixtract.serviceEnv" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $svc := fromJson (include "pixtract.serviceValues" (dict "root" $root "name" $name)) -}}
{{- $values := $root.Values -}}
{{- $prefix := printf "PIXTRACT_%s_" (upper $name) -}}
{{- $envArgs := dict "root" $root "prefix" $prefix "name" $name -}}
- name: {{ $prefix }}ENVIRONMENT
  value: {{ $values.environment | quote }}
- name: {{ $prefix }}HOST
  value: "0.0.0.0"
- name: {{ $prefix }}PORT
  value: {{ $svc.port | quote }}
- name: {{ $prefix }}LOG_LEVEL
  value: {{ $svc.logLevel | default $values.logLevel | quote }}
- name: {{ $prefix }}LOG_JSON
  value: "true"
# Clients' addresses come from X-Forwarded-For only when the peer is one of these
# (the ingress controller); auth throttles logins per client address.
- name: FORWARDED_ALLOW_IPS
  value: {{ $values.forwardedAllowIps | quote }}
- name: TMPDIR
  value: /tmp
{{- with $values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if has "kafka" .backends }}
{{- with (include "pixtract.kafkaEnv" $envArgs | trim) }}{{ . | nindent 0 }}{{- end }}
{{- end }}
{{- if has "mongo" .backends }}
{{- with (include "pixtract.mongoEnv" $envArgs | trim) }}{{ . | nindent 0 }}{{- end }}
{{- end }}
{{- if has "s3" .backends }}
{{- with (include "pixtract.s3Env" $envArgs | trim) }}{{ . | nindent 0 }}{{- end }}
{{- end }}
{{- if has "opensearch" .backends }}
{{- with (include "pixtract.openSearchEnv" $envArgs | trim) }}{{ . | nindent 0 }}{{- end }}
{{- end }}
{{- if and (has "internal" .backends) $values.internalToken.existingSecret }}
{{ include "pixtract.secretEnv" (dict "name" (printf "%sINTERNAL_TOKEN" $prefix) "secret" $values.internalToken.existingSecret "key" $values.internalToken.key) }}
{{- end }}
{{- if has "tokens" .backends }}
{{- with (include "pixtract.tokenEnv" $envArgs | trim) }}{{ . | nindent 0 }}{{- end }}
{{- end }}
{{- with .env }}
{{- . | trim | nindent 0 }}
{{- end }}
{{- range $key, $value := $svc.settings }}
- name: {{ printf "%s%s" $prefix (upper $key) }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with $values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- with $svc.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end -}}
