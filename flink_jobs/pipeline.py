"""The joulestream pipeline: Kafka (Avro) → per-run totals, windows, rollups, late events.

Submitted with ``flink run -pym joulestream.flink_jobs.pipeline`` (see ``stack/flink.py``) or,
on Kubernetes, through ``PythonDriver``. Connector jars are on the cluster's class path (``-C``
locally, ``/opt/flink/lib`` in the Kubernetes image), checkpointing comes from the cluster
configuration, and the job's own settings come from the environment (``JobSettings``).
"""

import logging

from pyflink.datastream import StreamExecutionEnvironment
from pyflink.java_gateway import get_gateway
from pyflink.table import StreamTableEnvironment, TableResult

from joulestream.flink_jobs import carbon, sql
from joulestream.flink_jobs.settings import JobSettings
from joulestream.schemas import limits

log = logging.getLogger(__name__)

# How often the run accounting sends what changed (per run): runs are live ("power now"), and
# a window, epoch or run is written once per interval however many events changed it.
FLUSH_MS = 1000


def table_config(settings: JobSettings) -> dict[str, str]:
    """Table options the job's semantics depend on."""
    return {
        "pipeline.name": settings.job_name,
        # Window boundaries and stored dates are UTC whatever the machine's zone.
        "table.local-time-zone": "UTC",
        # Every sink's _id is built from the keys of the statement writing it, so Flink need
        # not keep a copy of every output row to order updates (its upsert materializer).
        "table.exec.sink.upsert-materialize": "NONE",
        # Records pass between chained operators without a copy each: no operator of the job
        # keeps a record it was given (the MongoDB sink copies what it buffers).
        "pipeline.object-reuse": "true",
        # The SQL's only state is the rollups' (per user, model, region and period), which may
        # expire; a run's own state has its TTLs in the run accounting (flink_jobs/java).
        "table.exec.state.ttl": f"{settings.state_ttl_s * 1000} ms",
        # The rollups fold a batch of window updates into one state update and one output row.
        # No operator uses Flink's event-time watermarks (event time is judged per run).
        "table.exec.mini-batch.enabled": "true" if settings.mini_batch_ms > 0 else "false",
        "table.exec.mini-batch.allow-latency": f"{max(settings.mini_batch_ms, 1)} ms",
        "table.exec.mini-batch.size": str(settings.mini_batch_size),
    }


def register(t_env: StreamTableEnvironment, settings: JobSettings) -> tuple[sql.Output, ...]:
    """Register the source, the run accounting (``flink_jobs/java``), the views and the sinks;
    the outputs, whose INSERTs make the job."""
    config = t_env.get_config()
    for key, value in table_config(settings).items():
        config.set(key, value)
    for ddl in (
        sql.source_ddl(settings),
        sql.checked_view(settings),
        sql.events_view(),
        sql.grid_source_ddl(settings),
        sql.grid_checked_view(),
        sql.grid_periods_view(settings),
        sql.invalid_grid_view(),
    ):
        t_env.execute_sql(ddl)
    jvm = get_gateway().jvm
    accounting = jvm.io.joulestream.flink.RunAccounting
    accounting.attach(
        t_env._j_tenv,
        sql.FLAT_EVENTS,
        sql.GRID_PERIODS,
        accounting.Settings(
            settings.watermark_delay_s * 1000,
            settings.run_window_s * 1000,
            settings.lost_after_s * 1000,
            settings.dedup_ttl_s * 1000,
            settings.state_ttl_s * 1000,
            FLUSH_MS,
            limits.MAX_TEXT_LEN,
            settings.grid_reprice_horizon_s * 1000,
        ),
    )
    pricing = carbon.Pricing(carbon.load(), carbon.parse_pue(settings.pue))
    outputs = sql.every_output(settings, pricing)
    for ddl in (
        sql.windows_view(settings, pricing),
        sql.priced_late_view(pricing),
        *(output.ddl() for output in outputs),
    ):
        t_env.execute_sql(ddl)
    return outputs


def build(t_env: StreamTableEnvironment, settings: JobSettings) -> None:
    """Register the job and submit it: one INSERT per output, in one statement set."""
    outputs = register(t_env, settings)
    statements = t_env.create_statement_set()
    for output in outputs:
        statements.add_insert_sql(output.insert())
    result: TableResult = statements.execute()
    client = result.get_job_client()
    if client is not None:
        log.info("submitted %s as job %s", settings.job_name, client.get_job_id())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = JobSettings.from_env()
    env = StreamExecutionEnvironment.get_execution_environment()
    build(StreamTableEnvironment.create(env), settings)


if __name__ == "__main__":
    main()
