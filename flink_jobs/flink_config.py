"""The Flink configuration the job needs wherever it runs: its one source.

The local cluster (``stack/flink.py``) writes these keys into its ``config.yaml``; the Kubernetes
``FlinkDeployment`` (``k8s/flink-operator/base/pipeline.yaml``, ``flinkConfiguration``) carries
them too, because the operator, not the image, writes the cluster's configuration there, and
``tests/test_k8s.py`` checks that every overlay has exactly these values. Settings that must
differ between a loopback cluster and Kubernetes (addresses, memory, slots, parallelism, state
directories, state backend, HA) are written where they apply; the test lists them with the
reason each differs.

To change a setting of both: change it here and in ``pipeline.yaml`` (the test names any key
that disagrees).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Bounds on what one Avro record may ask the decoder to allocate. A malformed record can claim a
# string or array of hundreds of millions of entries; without a bound the TaskManager runs out of
# memory instead of sending the record to the dead letters. flink-sql-avro shades Avro, and the
# property names with it.
AVRO_MAX_LENGTHS: Final[Mapping[str, int]] = MappingProxyType(
    {"string": 1_048_576, "bytes": 1_048_576, "collectionItems": 100_000}
)
AVRO_LIMITS: Final = " ".join(
    f"-Dorg.apache.flink.avro.shaded.org.apache.avro.limits.{name}.maxLength={value}"
    for name, value in AVRO_MAX_LENGTHS.items()
)

FlinkValue = str | int | bool

FLINK_CONFIGURATION: Final[Mapping[str, FlinkValue]] = MappingProxyType(
    {
        # Exactly-once checkpoints every 10 s, kept when the job is cancelled so that upgrades
        # and manual restores have something to start from.
        "execution.checkpointing.interval": "10s",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "exponential-delay",
        "env.java.opts.taskmanager": AVRO_LIMITS,
        # No jar upload or run through the REST API (/jars/*): whoever reaches it could run code
        # as the cluster's user. Submitting a job graph (/jobs, `flink run`) is not affected.
        "web.submit.enable": False,
    }
)


def flink_string(value: FlinkValue) -> str:
    """A value as Flink reads it from a string (the operator's CRD types every value so)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
