{{/* Fixed names: one manager per namespace, and adapters' bundles name its Service. */}}
{{- define "kordon-manager.labels" -}}
app.kubernetes.io/name: kordon-manager
app.kubernetes.io/part-of: kordon
{{- end -}}

{{/* The names the Service is reached by, all in the server certificate. */}}
{{- define "kordon-manager.sans" -}}
{{- $ns := .Release.Namespace -}}
{{- $names := list "kordon-manager" (printf "kordon-manager.%s" $ns) (printf "kordon-manager.%s.svc" $ns) (printf "kordon-manager.%s.svc.%s" $ns .Values.clusterDomain) -}}
{{- concat $names .Values.tlsSANs | toJson -}}
{{- end -}}
