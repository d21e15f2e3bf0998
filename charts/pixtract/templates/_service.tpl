{{/* Renders one Pixtract service: a Deployment and a Service. Called once per service. */}}
{{- define "pixtract.service" -}}
{{- $name := .name -}}
{{- $svc := .svc -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $root.Release.Name }}-{{ $name }}
  labels:
    app.kubernetes.io/name: pixtract-{{ $name }}
    app.kubernetes.io/instance: {{ $root.Release.Name }}
spec:
  replicas: {{ $svc.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/name: pixtract-{{ $name }}
      app.kubernetes.io/instance: {{ $root.Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: pixtract-{{ $name }}
        app.kubernetes.io/instance: {{ $root.Release.Name }}
    spec:
      containers:
        - name: {{ $name }}
          image: "{{ $root.Values.image.registry }}/{{ $name }}:{{ $root.Values.image.tag | default $root.Chart.AppVersion }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          env:
            - name: PIXTRACT_{{ upper $name }}_HOST
              value: "0.0.0.0"
            - name: PIXTRACT_{{ upper $name }}_PORT
              value: {{ $svc.port | quote }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $root.Release.Name }}-{{ $name }}
spec:
  selector:
    app.kubernetes.io/name: pixtract-{{ $name }}
    app.kubernetes.io/instance: {{ $root.Release.Name }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: http
{{- end -}}
