{{/* The labels of every object, the same as kordon cluster manifests prints. */}}
{{- define "kordon-adapter.labels" -}}
app.kubernetes.io/name: kordon-adapter
app.kubernetes.io/part-of: kordon
{{- end -}}

{{- define "kordon-adapter.secretName" -}}
{{- default "kordon-adapter" .Values.bundle.existingSecret -}}
{{- end -}}
