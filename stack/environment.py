"""The environment of Flink's processes: an allow-list, never the caller's whole environment.

Flink's Python driver logs the environment it starts the job's Python with (``PythonEnvUtils``,
masking only names with "password", "secret", "token" or "apikey"), and the JobManager serves
its log folder over REST. A ``WANDB_API_KEY`` or a ``DATABASE_URL`` of the user's shell has no
business there, so the cluster gets only what a JVM and a Python need, and the ``flink run``
client that as well as the variables the job reads.
"""

from collections.abc import Iterator, Mapping

from joulestream.flink_jobs.settings import JobSettings

SYSTEM_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",  # Flink names its log files after it
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "JAVA_HOME",
        # Where TLS clients (the job's Kafka and MongoDB connections) find CA certificates.
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)
"""What a JVM, bash and Python need to start and to find their tools, locale and time zone."""
SYSTEM_PREFIXES = ("LC_",)
"""Locale categories (``LC_ALL``, ``LC_CTYPE`` …)."""
CREDENTIAL_NAMES = frozenset({"MONGODB_USERNAME", "MONGODB_PASSWORD"})
"""The MongoDB credentials travel apart from ``MONGODB_URI`` (see ``stack.mongouri``)."""


class _ReadRecorder(Mapping[str, str]):
    """An empty mapping that notes every name looked up in it."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def job_names() -> frozenset[str]:
    """The variables the job reads: those ``JobSettings.from_env`` looks up (so a setting the job
    gains is passed on without a second list to keep in step), and the MongoDB credentials."""
    recorder = _ReadRecorder()
    JobSettings.from_env(recorder)
    return frozenset(recorder.names) | CREDENTIAL_NAMES


def allowed(environ: Mapping[str, str], names: frozenset[str]) -> dict[str, str]:
    """The variables of ``environ`` that are system ones or named in ``names``."""
    return {
        name: value
        for name, value in environ.items()
        if name in SYSTEM_NAMES or name.startswith(SYSTEM_PREFIXES) or name in names
    }


def cluster_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What the JobManager and TaskManager inherit: system variables only. The job's settings
    reach its operators inside the job graph, built by the client."""
    return allowed(environ, frozenset())


def client_env(environ: Mapping[str, str]) -> dict[str, str]:
    """What ``flink run`` inherits: system variables and the variables the job reads."""
    return allowed(environ, job_names())
