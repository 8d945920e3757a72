{{/*
Names. Kubernetes names are DNS labels: at most 63 characters, no trailing "-".
*/}}
{{- define "flux-adapter.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flux-adapter.fullname" -}}
{{- $full := .Values.fullnameOverride -}}
{{- if not $full -}}
{{- $name := include "flux-adapter.name" . -}}
{{- $full = ternary .Release.Name (printf "%s-%s" .Release.Name $name) (hasPrefix $name .Release.Name) -}}
{{- end -}}
{{- $full | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flux-adapter.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "flux-adapter.fullname" .) -}}
{{- end -}}

{{- define "flux-adapter.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "flux-adapter.fullname" .) -}}
{{- end -}}

{{/*
Labels: the selector pair never changes for a release; the rest may.
*/}}
{{- define "flux-adapter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flux-adapter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flux-adapter.labels" -}}
{{ include "flux-adapter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
The image: repository@digest when a digest pins it, else repository:tag with the
tag defaulting to the chart's appVersion.
*/}}
{{- define "flux-adapter.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
The three values an install cannot do without. Each fails the render with the
value to set, so a broken install never reaches the cluster.
*/}}
{{- define "flux-adapter.flowServerUrl" -}}
{{- $url := required "flowServer.url is required: set it to the flow server's base URL, e.g. --set flowServer.url=https://flow.example.com" (trim .Values.flowServer.url) -}}
{{- if not (regexMatch "^(?i:https?)://[^/?#]+" $url) -}}
{{- fail (printf "flowServer.url must start with http:// or https:// and name a host, got %q" $url) -}}
{{- end -}}
{{- trimSuffix "/" $url -}}
{{- end -}}

{{- define "flux-adapter.flowId" -}}
{{- required "flowId is required: set it to the flow this cluster's graph belongs to, e.g. --set flowId=bootstrap" (trim .Values.flowId) -}}
{{- end -}}

{{- define "flux-adapter.regionKey" -}}
{{- required "regionKey is required: set it to this cluster's region node, e.g. --set regionKey=eu-west-1" (trim .Values.regionKey) -}}
{{- end -}}

{{/*
Seconds in a duration value: a number, a numeric string, or a Go duration such
as "1m30s" (values.schema.json admits nothing else). Renders a float.
*/}}
{{- define "flux-adapter.seconds" -}}
{{- $value := . -}}
{{- if not (kindIs "string" $value) -}}
{{- float64 $value -}}
{{- else if regexMatch "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)$" $value -}}
{{- float64 $value -}}
{{- else -}}
{{- $units := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h)" $value -1 -}}
{{- $unit := regexFind "(ns|us|µs|ms|s|m|h)$" . -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit .)) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
{{- end -}}

{{/*
Checks across values that the schema cannot express; each names what to change.
The adapter checks the lease timings too, but only after it has been scheduled.
*/}}
{{- define "flux-adapter.validate" -}}
{{- $ca := .Values.flowServer.caBundle -}}
{{- if and $ca.configMapName $ca.secretName -}}
{{- fail "flowServer.caBundle: set configMapName or secretName, not both" -}}
{{- end -}}
{{- $shutdown := include "flux-adapter.seconds" .Values.shutdownTimeout | float64 -}}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $shutdown -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be longer than shutdownTimeout (%v) so the adapter can release its lease" .Values.terminationGracePeriodSeconds .Values.shutdownTimeout) -}}
{{- end -}}
{{- $election := .Values.leaderElection -}}
{{- if and (eq .Values.workload.kind "Deployment") (gt (int .Values.workload.replicas) 1) (not $election.enabled) -}}
{{- fail (printf "workload.replicas is %v with leaderElection.enabled false: every copy would post; enable leader election or run one replica" .Values.workload.replicas) -}}
{{- end -}}
{{- if $election.enabled -}}
{{- $lease := include "flux-adapter.seconds" $election.leaseDuration | float64 -}}
{{- $renew := include "flux-adapter.seconds" $election.renewDeadline | float64 -}}
{{- $retry := include "flux-adapter.seconds" $election.retryPeriod | float64 -}}
{{- range $name, $value := dict "leaseDuration" $lease "renewDeadline" $renew "retryPeriod" $retry -}}
{{- if lt $value 1.0 -}}
{{- fail (printf "leaderElection.%s must be at least 1s, got %vs" $name $value) -}}
{{- end -}}
{{- end -}}
{{- if le $lease $renew -}}
{{- fail (printf "leaderElection.leaseDuration (%v) must be longer than leaderElection.renewDeadline (%v)" $election.leaseDuration $election.renewDeadline) -}}
{{- end -}}
{{- if le $renew (mulf 1.2 $retry) -}}
{{- fail (printf "leaderElection.renewDeadline (%v) must be longer than 1.2 x leaderElection.retryPeriod (%v)" $election.renewDeadline $election.retryPeriod) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A ClusterRole's name carries the release namespace: two releases of the same
name in different namespaces must not share one.
*/}}
{{- define "flux-adapter.watchRoleName" -}}
{{- if .Values.namespaceFilter -}}
{{- printf "%s-watch" (include "flux-adapter.fullname" .) -}}
{{- else -}}
{{- printf "%s-%s-watch" .Release.Namespace (include "flux-adapter.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "flux-adapter.leaseRoleName" -}}
{{- printf "%s-lease" (include "flux-adapter.fullname" .) -}}
{{- end -}}

{{/*
Where the flow server's token and CA bundle are mounted in the container.
*/}}
{{- define "flux-adapter.tokenDir" -}}/var/run/flux-adapter/token{{- end -}}
{{- define "flux-adapter.caDir" -}}/var/run/flux-adapter/ca{{- end -}}
