#!/bin/bash
# The official apache/kafka image's start: when any KAFKA_* variable is set, they replace the
# default configuration, each one a setting (KAFKA_ dropped, lower case, "___" -> "-",
# "__" -> "_", "_" -> "."); CLUSTER_ID names the KRaft cluster; KAFKA_HEAP_OPTS and KAFKA_OPTS go
# to the JVM. The storage is formatted on first start.
set -euo pipefail
config=/opt/kafka/config/server.properties
# Variables of the JVM and the scripts, not broker settings (as in the official image).
skip=" KAFKA_VERSION KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_LOG4J_OPTS KAFKA_JMX_OPTS KAFKA_JMX_PORT \
KAFKA_JMX_HOSTNAME KAFKA_JVM_PERFORMANCE_OPTS KAFKA_GC_LOG_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL \
KAFKA_LOG4J_LOGGERS KAFKA_TOOLS_LOG4J_LOGLEVEL "
settings=""
for name in $(compgen -e | grep '^KAFKA_' || true); do
  [[ "$skip" == *" $name "* ]] && continue
  key=${name#KAFKA_}
  key=${key,,}
  key=${key//___/-}
  key=${key//__/@}
  key=${key//_/.}
  key=${key//@/_}
  settings+="$key=${!name}"$'\n'
done
if [[ -n "$settings" ]]; then
  config=${TMPDIR:-/tmp}/server.properties
  printf '%s' "$settings" > "$config"
fi
java=(java ${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} ${KAFKA_OPTS:-}
  -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp '/opt/kafka/libs/*')
"${java[@]}" kafka.tools.StorageTool format --ignore-formatted \
  "--cluster-id=${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" "--config=$config" >/dev/null
exec "${java[@]}" kafka.Kafka "$config"
