"""Plans the job's statements without a cluster: ``python -m tests.plan_statements OUT [ENV=VALUE
…]`` registers the real source, run accounting, views and sinks (the connector jars and the
job's jar on the class path, as ``stack/flink.py`` submits them) in a local table environment,
and writes ``explain()`` of the whole statement set to OUT. Nothing runs and nothing is read.

A process of its own, so that the tests' process starts no JVM and PyFlink's import warnings do
not meet pytest's ``filterwarnings = error``.
"""

import sys
from pathlib import Path

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.table import StreamTableEnvironment

from joulestream.flink_jobs import pipeline
from joulestream.flink_jobs.settings import JobSettings
from stack import fetch, jobjar
from stack.settings import StackSettings


def main(out: Path, env: dict[str, str]) -> None:
    stack = StackSettings.from_env()
    jars = [*fetch.jars(stack, "flink"), jobjar.build(stack)]
    streams = StreamExecutionEnvironment.get_execution_environment()
    # RunAccounting attaches to a StreamTableEnvironment (it is a DataStream operator), and the
    # factories of the connectors and of the job's format and sink come from these jars.
    streams.add_jars(*(jar.as_uri() for jar in jars))
    t_env = StreamTableEnvironment.create(streams)
    outputs = pipeline.register(t_env, JobSettings.from_env(env))
    statements = t_env.create_statement_set()
    for output in outputs:
        statements.add_insert_sql(output.insert())
    out.write_text(statements.explain(), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), dict(arg.split("=", 1) for arg in sys.argv[2:]))
