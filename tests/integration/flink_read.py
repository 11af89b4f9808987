"""Read a topic to its current end with the job's joulestream-avro format; print rows as JSON.

``python -m tests.integration.flink_read TOPIC BOOTSTRAP JARS [SCHEMA_FILE]``: without a schema
file the job's own source DDL is used; with one, a table with the columns generated from it. Run
in a child process so that the test process does not host PyFlink's JVM gateway.
"""

import json
import sys
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment

from joulestream import schemas
from joulestream.flink_jobs import sql
from joulestream.flink_jobs.avro_ddl import column_ddl
from joulestream.flink_jobs.settings import JobSettings


def main(topic: str, bootstrap_servers: str, jars: str, schema_file: str | None = None) -> None:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("pipeline.jars", jars)
    settings = JobSettings(kafka_bootstrap_servers=bootstrap_servers, topic=topic)
    if schema_file is None:
        schema = schemas.load(schemas.TRAINING_EVENT)
        t_env.execute_sql(sql.source_ddl(settings, bounded=True))
    else:
        schema = json.loads(Path(schema_file).read_text())
        options = {
            "connector": "kafka", "topic": topic, "format": "joulestream-avro",
            "properties.bootstrap.servers": bootstrap_servers,
            "scan.startup.mode": "earliest-offset", "scan.bounded.mode": "latest-offset",
        }  # fmt: skip
        with_ = ", ".join(f"{sql.literal(k)} = {sql.literal(v)}" for k, v in options.items())
        t_env.execute_sql(f"CREATE TABLE {sql.SOURCE} (\n{column_ddl(schema)}\n) WITH ({with_})")
    names = [field["name"] for field in schema["fields"]]
    # Nested values travel as JSON text: PyFlink's own conversion of an ARRAY of ROWs fails.
    select = ", ".join(f"JSON_STRING(`{name}`)" for name in names)
    with t_env.execute_sql(f"SELECT {select} FROM {sql.SOURCE}").collect() as results:
        for row in results:
            values = [None if v is None else json.loads(v) for v in row]
            print(json.dumps(dict(zip(names, values, strict=True))), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
