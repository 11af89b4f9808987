"""The joulestream pipeline: Kafka (Avro) → per-run totals, windows, rollups, late events.

Submitted with ``flink run -pym flink_jobs.pipeline`` (see ``stack/flink.py``) or, on Kubernetes,
through ``PythonDriver``. Connector jars are on the cluster's class path (``-C`` locally,
``/opt/flink/lib`` in the Kubernetes image), checkpointing comes from the cluster configuration,
and the job's own settings come from the environment (``JobSettings``).
"""

import logging

from pyflink.java_gateway import get_gateway
from pyflink.table import EnvironmentSettings, TableEnvironment, TableResult

from joulestream.flink_jobs import carbon, sql
from joulestream.flink_jobs.plan import tuned
from joulestream.flink_jobs.settings import JobSettings

log = logging.getLogger(__name__)


def table_config(s: JobSettings) -> dict[str, str]:
    """Table options the job's semantics depend on."""
    return {
        "pipeline.name": s.job_name,
        # Window boundaries and stored dates are UTC whatever the machine's zone.
        "table.local-time-zone": "UTC",
        # Every sink's _id is built from the keys of the statement writing it, so Flink need
        # not keep a copy of every output row to order updates (its upsert materializer).
        "table.exec.sink.upsert-materialize": "NONE",
        # Plan the views every output shares once: one de-duplication state, and the late/on
        # time split read from one operator's watermark, so each measurement goes one way.
        "table.optimizer.reuse-optimize-block-with-digest-enabled": "true",
        # Every aggregate folds a batch of a key's events into one state update and one output
        # row, which multiplies the job's throughput. Safe for the whole job: no operator uses
        # Flink's event-time watermarks (event time is judged per run, see sql.progressed_view).
        "table.exec.mini-batch.enabled": "true" if s.mini_batch_ms > 0 else "false",
        "table.exec.mini-batch.allow-latency": f"{max(s.mini_batch_ms, 1)} ms",
        "table.exec.mini-batch.size": str(s.mini_batch_size),
    }


def compiled_plan(t_env: TableEnvironment, s: JobSettings) -> str:
    """Register the source, views and sinks and compile every INSERT into one plan (JSON),
    with each stateful operator's state TTL (``flink_jobs/plan``)."""
    config = t_env.get_config()
    for key, value in table_config(s).items():
        config.set(key, value)
    pricing = carbon.Pricing(carbon.load(), carbon.parse_pue(s.pue))
    for ddl in (
        sql.LATEST_BY_SEQ_DDL,
        sql.source_ddl(s),
        sql.checked_view(s),
        sql.progressed_view(),
        sql.deduped_view(),
        sql.measurements_view(s),
        sql.on_time_view(),
        sql.late_view(),
        sql.run_meta_view(),
        sql.silences_view(s),
        sql.run_updates_view(),
        sql.windows_view(s, pricing),
        sql.priced_late_view(pricing),
        sql.runs_sink_ddl(s),
        sql.windows_sink_ddl(s),
        sql.rollups_sink_ddl(s),
        sql.epochs_sink_ddl(s),
        sql.late_sink_ddl(s),
        sql.dead_letters_sink_ddl(s),
        sql.windows_topic_sink_ddl(s),
    ):
        t_env.execute_sql(ddl)
    statements = t_env.create_statement_set()
    statements.add_insert_sql(sql.runs_insert(s, pricing))
    statements.add_insert_sql(sql.windows_insert())
    statements.add_insert_sql(sql.windows_topic_insert())
    statements.add_insert_sql(sql.rollups_insert(s))
    statements.add_insert_sql(sql.epochs_insert())
    statements.add_insert_sql(sql.late_insert(s))
    statements.add_insert_sql(sql.dead_letters_insert(s))
    # Submitted as a compiled plan, to give each stateful operator its own TTL (flink_jobs/plan).
    compiled = statements._j_statement_set.compilePlan().asJsonString()
    return tuned(compiled, s.dedup_ttl_s * 1000, s.state_ttl_s * 1000)


def build(t_env: TableEnvironment, s: JobSettings) -> None:
    """Compile the job and submit it."""
    plan = compiled_plan(t_env, s)
    gateway = get_gateway()
    reference = gateway.jvm.org.apache.flink.table.api.PlanReference.fromJsonString(plan)
    result = TableResult(t_env._j_tenv.loadPlan(reference).execute())
    client = result.get_job_client()
    if client is not None:
        log.info("submitted %s as job %s", s.job_name, client.get_job_id())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = JobSettings.from_env()
    build(TableEnvironment.create(EnvironmentSettings.in_streaming_mode()), settings)


if __name__ == "__main__":
    main()
