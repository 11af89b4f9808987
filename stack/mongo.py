"""The MongoDB-compatible server: a real ``mongod`` when one is on PATH, FerretDB otherwise."""

import shutil

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from joulestream.schemas.documents import ensure_indexes as _ensure
from stack import fetch, private, procs
from stack.mongouri import MongoConnection
from stack.settings import StackSettings

NAME = "mongo"


def _client(mongo: MongoConnection, timeout_ms: int) -> MongoClient[dict[str, object]]:
    return MongoClient(
        mongo.uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        username=mongo.username,
        password=mongo.password,
    )


def healthy(mongo: MongoConnection, timeout_s: float = 2.0) -> bool:
    """True when the server answers a ping."""
    client = _client(mongo, int(timeout_s * 1000))
    try:
        client.admin.command("ping")
    except PyMongoError:
        return False
    finally:
        client.close()
    return True


def server_kind() -> str:
    """'mongod' when a real MongoDB is installed, else 'ferretdb'."""
    return "mongod" if shutil.which("mongod") else "ferretdb"


def up(settings: StackSettings, timeout_s: float = 60.0) -> bool:
    """Start the server unless it runs already; True if this call started it."""
    if procs.running_pid(settings, NAME) is not None:
        return False
    procs.require_free_port(settings.mongo_port, "the MongoDB-compatible server")
    data = private.make_dir(settings.home / "mongo" / "data")
    address = f"127.0.0.1:{settings.mongo_port}"
    if server_kind() == "mongod":
        mongod = shutil.which("mongod") or "mongod"
        argv = [mongod, "--bind_ip", "127.0.0.1", "--port", str(settings.mongo_port)]
        argv += ["--dbpath", str(data)]
    else:
        argv = [
            str(fetch.ferretdb(settings)),
            "--handler=sqlite",
            # FerretDB wants a file: URI of an existing directory that ends with a slash.
            f"--sqlite-url=file:{data}/",
            f"--state-dir={settings.home / 'mongo'}",
            f"--listen-addr={address}",
            "--debug-addr=127.0.0.1:0",
            "--telemetry=disable",
            "--log-level=warn",
        ]
    procs.start(settings, NAME, argv)
    with procs.stopped_on_error(settings, [NAME]):
        procs.wait_until(
            lambda: healthy(settings.mongo_connection),
            f"{server_kind()} on {address}",
            timeout_s,
            settings,
            NAME,
        )
    return True


def ensure_indexes(mongo: MongoConnection, database: str) -> None:
    """Create the indexes the dashboard queries need in ``database``."""
    client = _client(mongo, 10_000)
    try:
        _ensure(client[database])
    finally:
        client.close()
