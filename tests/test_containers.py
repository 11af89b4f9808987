"""The container path's parts that need no Docker engine: the mirror debootstrap uses, the
content tags, the Kafka image's reading of the official image's variables, and the skip reasons."""

import os
import subprocess
from pathlib import Path

import pytest

from stack import dockerd, imagebuild
from stack.imagebuild import ImageBuildError, apt_mirror, tree_digest
from tests.integration.services import image

RUN_SH = imagebuild.IMAGES_DIR / "kafka" / "run.sh"


def test_the_mirror_is_read_from_a_deb822_sources_file(tmp_path: Path):
    sources = tmp_path / "debian.sources"
    sources.write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb-src deb\nURIs: http://mirror.example/debian\n"
        "  http://second.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror("bookworm", [sources]) == "http://mirror.example/debian"


def test_a_disabled_stanza_and_source_only_lines_are_passed_over(tmp_path: Path):
    sources = tmp_path / "a.sources"
    sources.write_text(
        "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n"
    )
    listing = tmp_path / "b.list"
    listing.write_text(
        "deb-src http://src.example/debian bookworm main\n"
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://on.example/debian bookworm main\n"
    )
    assert apt_mirror("bookworm", [sources, listing]) == "http://on.example/debian"


def test_no_mirror_for_the_suite_is_a_clear_error(tmp_path: Path):
    listing = tmp_path / "sources.list"
    listing.write_text("deb http://mirror.example/debian trixie main\n")
    with pytest.raises(ImageBuildError, match="no Debian mirror for bookworm"):
        apt_mirror("bookworm", [listing, tmp_path / "missing.list"])


def test_the_content_tag_changes_with_a_file_s_content_or_mode_and_nothing_else(tmp_path: Path):
    (tmp_path / "ctx").mkdir()
    script = tmp_path / "ctx" / "run.sh"
    script.write_text("echo 1\n")
    script.chmod(0o644)
    first = tree_digest([tmp_path / "ctx"], "base:1")
    assert tree_digest([tmp_path / "ctx"], "base:1") == first
    os.utime(script, (0, 0))
    assert tree_digest([tmp_path / "ctx"], "base:1") == first
    assert tree_digest([tmp_path / "ctx"], "base:2") != first
    script.chmod(0o755)
    executable = tree_digest([tmp_path / "ctx"], "base:1")
    assert executable != first
    script.write_text("echo 2\n")
    assert tree_digest([tmp_path / "ctx"], "base:1") not in (first, executable)


def _run_kafka_entrypoint(tmp_path: Path, env: dict[str, str]) -> tuple[list[str], str]:
    """run.sh with a ``java`` that records its calls: (the calls, the configuration it got)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text(
        '#!/bin/bash\necho "$*" >> "$CALLS"\n'
        'for a in "$@"; do case "$a" in --config=*) cp "${a#--config=}" "$SEEN";; esac; done\n'
        "exit 0\n"
    )
    fake.chmod(0o755)
    calls, seen = tmp_path / "calls", tmp_path / "seen.properties"
    base = {"PATH": f"{bin_dir}:/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    base.update(CALLS=str(calls), SEEN=str(seen))
    subprocess.run(["bash", str(RUN_SH)], env={**base, **env}, check=True, timeout=30)
    return calls.read_text().splitlines(), seen.read_text() if seen.exists() else ""


def test_kafka_variables_become_broker_settings_as_in_the_official_image(tmp_path: Path):
    calls, config = _run_kafka_entrypoint(
        tmp_path,
        {
            "KAFKA_NODE_ID": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "KAFKA_SOME__UNDERSCORE___DASH": "x",
            "KAFKA_HEAP_OPTS": "-Xmx256m",
            "CLUSTER_ID": "abc",
        },
    )
    assert sorted(config.splitlines()) == [
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "node.id=1",
        "some_underscore-dash=x",
        "transaction.state.log.min.isr=1",
    ]
    generated = tmp_path / "server.properties"
    jvm = "-Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp"
    assert calls == [
        f"{jvm} /opt/kafka/libs/* kafka.tools.StorageTool format --ignore-formatted "
        f"--cluster-id=abc --config={generated}",
        f"{jvm} /opt/kafka/libs/* kafka.Kafka {generated}",
    ]


def test_without_kafka_variables_the_default_configuration_and_cluster_id_are_used(
    tmp_path: Path,
):
    calls, config = _run_kafka_entrypoint(tmp_path, {})
    # The default file is only in the image: the fake java found nothing to copy.
    assert config == ""
    default = "/opt/kafka/config/server.properties"
    jvm = "-Xmx1G -Xms1G -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp"
    assert calls == [
        f"{jvm} /opt/kafka/libs/* kafka.tools.StorageTool format --ignore-formatted "
        f"--cluster-id=5L6g3nShT-eMCtK--X86sw --config={default}",
        f"{jvm} /opt/kafka/libs/* kafka.Kafka {default}",
    ]


def test_the_fixture_takes_the_official_image_unless_a_local_build_is_named(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("JOULESTREAM_KAFKA_IMAGE", raising=False)
    assert image("apache/kafka:4.1.2", "JOULESTREAM_KAFKA_IMAGE") == "apache/kafka:4.1.2"
    monkeypatch.setenv("JOULESTREAM_KAFKA_IMAGE", "joulestream/kafka:4.1.2-0123")
    assert image("apache/kafka:4.1.2", "JOULESTREAM_KAFKA_IMAGE") == "joulestream/kafka:4.1.2-0123"


def test_no_engine_without_root(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert dockerd.why_not() == "dockerd needs root (run make integration-containers as root)"


def test_no_engine_without_dockerd(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr("stack.dockerd.shutil.which", lambda _: None)
    assert dockerd.why_not() == "dockerd is not installed (Debian: apt-get install docker.io)"


def test_an_engine_that_does_not_answer_is_not_taken_for_one(tmp_path: Path):
    assert dockerd.ping(f"unix://{tmp_path / 'absent.sock'}") is False
