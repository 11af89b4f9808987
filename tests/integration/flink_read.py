"""Read a topic to its current end with the job's own source DDL and print the rows as JSON.

Run in a child process (``python -m tests.integration.flink_read TOPIC BOOTSTRAP JARS``) so that
the test process does not host PyFlink's JVM gateway.
"""

import json
import sys

from pyflink.table import EnvironmentSettings, TableEnvironment

import schemas
from flink_jobs import sql
from flink_jobs.settings import JobSettings


def main(topic: str, bootstrap_servers: str, jars: str) -> None:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("pipeline.jars", jars)
    settings = JobSettings(kafka_bootstrap_servers=bootstrap_servers, topic=topic)
    t_env.execute_sql(sql.source_ddl(settings, bounded=True))
    names = [field["name"] for field in schemas.load(schemas.MEASUREMENT_V1)["fields"]]
    select = ", ".join(f"`{name}`" for name in names)
    with t_env.execute_sql(f"SELECT {select} FROM {sql.SOURCE}").collect() as results:
        for row in results:
            print(json.dumps(dict(zip(names, row, strict=True))), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
