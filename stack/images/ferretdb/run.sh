#!/bin/bash
# mongo:7's interface on FerretDB: the root user from MONGO_INITDB_ROOT_USERNAME/PASSWORD (with
# authentication then required, as mongod does), data in /data/db, and mongod's readiness line
# once the port answers (testcontainers' MongoDbContainer waits for it).
set -euo pipefail
args=(--handler=sqlite --sqlite-url=file:/data/db/ --state-dir=/var/lib/ferretdb
  --listen-addr=0.0.0.0:27017 --debug-addr=127.0.0.1:0 --telemetry=disable --log-level=warn)
if [[ -n "${MONGO_INITDB_ROOT_USERNAME:-}" ]]; then
  args+=(--test-enable-new-auth --setup-database=admin
    "--setup-username=$MONGO_INITDB_ROOT_USERNAME" "--setup-password=${MONGO_INITDB_ROOT_PASSWORD:-}")
fi
/usr/local/bin/ferretdb "${args[@]}" &
server=$!
trap 'kill -TERM "$server"; wait "$server"' TERM INT
until (exec 3<>/dev/tcp/127.0.0.1/27017) 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || { wait "$server"; exit $?; }
  sleep 0.2
done
echo '{"s":"I","c":"NETWORK","msg":"Waiting for connections","attr":{"port":27017}}'
wait "$server"
