# The Flink job's image: Flink 1.20 with Python 3.11, the pinned PyFlink, the connector jars and
# the job's code. Build from the repository root:
#   docker build -f k8s/flink-operator/images/pipeline.Dockerfile -t joulestream-pipeline:0.1.0 .

# The connector jars, fetched from the same pom the local stack uses; its versions come from
# flink_jobs/java/versions/pom.xml, which the job's jar is compiled against too.
FROM maven:3.9-eclipse-temurin-17 AS jars
COPY flink_jobs/java/versions/pom.xml /build/flink_jobs/java/versions/pom.xml
COPY stack/maven/flink/pom.xml /build/stack/maven/flink/pom.xml
RUN mvn -B -q -f /build/stack/maven/flink/pom.xml dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory=/build/jars

# The job's own jar: the Maven module flink_jobs/java (Flink and the connectors provided), built
# and unit-tested as `make java-test` and stack/jobjar.py do locally. A build of the poms alone
# resolves the plugins and the provided jars in a layer of their own, so a change to the sources
# downloads only the test runner's provider (Surefire resolves it when tests exist).
FROM maven:3.9-eclipse-temurin-17 AS jobjar
COPY flink_jobs/java/versions/pom.xml /build/flink_jobs/java/versions/pom.xml
COPY flink_jobs/java/pom.xml /build/flink_jobs/java/pom.xml
RUN mvn -B -q -f /build/flink_jobs/java/pom.xml package
COPY flink_jobs/java/src /build/flink_jobs/java/src
RUN mvn -B -q -f /build/flink_jobs/java/pom.xml package

# Python 3.11 (the version of requirements.lock) and a virtual environment with the project
# installed with its `job` extra (apache-flink, pymongo), every version at the pin of
# requirements.lock. The Flink image is Ubuntu 22.04, whose own python3 is 3.10, so the
# interpreter comes from uv. The project installs as the package joulestream (pyproject.toml maps
# the folders onto it), so every mapped folder is copied for the build.
FROM flink:1.20.5-java17 AS python
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/*
RUN pip3 install --no-cache-dir uv==0.13.8
ENV UV_PYTHON_INSTALL_DIR=/opt/python
COPY requirements.lock /tmp/requirements.lock
COPY pyproject.toml /src/pyproject.toml
COPY README.md /src/README.md
COPY emitter /src/emitter
COPY schemas /src/schemas
COPY flink_jobs /src/flink_jobs
COPY dash_app /src/dash_app
RUN uv python install 3.11 \
 && uv venv --python 3.11 /opt/venv \
 && uv pip install --python /opt/venv/bin/python --no-cache \
      -c /tmp/requirements.lock '/src[job]'

FROM flink:1.20.5-java17
COPY --from=python /opt/python /opt/python
COPY --from=python /opt/venv /opt/venv
COPY --from=jars /build/jars/ /opt/flink/lib/
COPY --from=jobjar /build/flink_jobs/java/target/joulestream-flink.jar /opt/flink/lib/
# PythonDriver runs `python -m joulestream.flink_jobs.pipeline` with /opt/venv's Python, where
# the job is installed.
ENV PATH=/opt/venv/bin:$PATH
