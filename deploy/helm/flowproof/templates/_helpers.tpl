{{/*
The release's name, with the chart's unless it has it already. 40
characters at most: the Jobs' names add "-analyze", and an Indexed Job's pod
hostname adds "-INDEX" to that, all within a DNS label's 63.
*/}}
{{- define "flowproof.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flowproof.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "flowproof.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "flowproof.secretName" -}}
{{- if .Values.secret.create -}}
{{- printf "%s-s3" (include "flowproof.fullname" .) -}}
{{- else -}}
{{- required "secret.existingSecret is required unless secret.create is true" .Values.secret.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* The run's output, s3://BUCKET/OUTPUTPREFIX. */}}
{{- define "flowproof.out" -}}
{{- printf "s3://%s/%s" (required "s3.bucket is required" .Values.s3.bucket) (.Values.s3.outputPrefix | trimSuffix "/") -}}
{{- end -}}

{{/* The S3 flags, as a YAML list, for both Jobs. */}}
{{- define "flowproof.s3Args" -}}
{{- $args := list -}}
{{- with .Values.s3.endpoint }}{{ $args = append $args "--s3-endpoint" }}{{ $args = append $args . }}{{ end -}}
{{- if .Values.s3.pathStyle }}{{ $args = append $args "--s3-path-style" }}{{ end -}}
{{- if $args }}{{ toYaml $args }}{{ end -}}
{{- end -}}

{{- define "flowproof.env" -}}
- name: AWS_REGION
  value: {{ .Values.s3.region | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "flowproof.secretName" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "flowproof.secretName" . }}
      key: AWS_SECRET_ACCESS_KEY
- name: TMPDIR
  value: /tmp
{{- end -}}

{{/* Non-root, no privilege, read-only root filesystem: flowproof writes only to /tmp. */}}
{{- define "flowproof.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "flowproof.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Scheduling and pull settings shared by both pod templates. */}}
{{- define "flowproof.podScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
