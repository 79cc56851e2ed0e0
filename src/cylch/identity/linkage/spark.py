"""Batch linkage on Spark: the same saved model, scored through Splink's Spark backend.

``run_spark`` takes what ``batch.run_duckdb`` takes and returns the same ``BatchResult``:
Splink predicts the pairs at or above the review weight on Spark (local mode on one
machine, or a cluster), the pairs come back to this process, and the guarded clustering in
``batch.cluster`` turns them into people. Only the scoring moves; the decisions do not.

The model is not retrained or rebuilt for Spark. Its saved JSON (``LinkageModel.splink``)
holds Splink's settings in DuckDB SQL; ``spark_settings`` translates each level's SQL
condition and each blocking rule to Spark SQL and keeps every level, label, m and u
probability, λ and term-frequency setting as saved. Three things in that SQL do not mean
the same on Spark and are translated, not copied:

* **Quoting.** DuckDB quotes columns with ``"given_name_l"``; to Spark SQL that is a string
  literal, so ``"dob_l" = "dob_r"`` would silently compare two constants. sqlglot rewrites
  the identifiers with backticks. This is also why the Welsh/English name-form level
  (``array_contains("given_variants_l", "given_name_r")``) cannot run on Spark as written:
  ``array_contains`` itself is the same function on both (list first, value second), and so
  are the misspelt-form level's ``list_max(list_transform(list, lambda v: ...))``, which
  becomes ``array_max(transform(list, v -> ...))``.
* **Jaro-Winkler.** Splink's Spark jar has a ``jaro_winkler`` function, but it is not
  DuckDB's: it counts half-transpositions without rounding down (``annwen``/``anwen`` is
  0.876 there, 0.902 on DuckDB), which moves pairs across the 0.8, 0.9 and 0.92 levels. So
  ``jaro_winkler_similarity`` becomes ``cylch_jaro_winkler``, a Spark SQL function (pure
  SQL, no Python on the executors) that repeats DuckDB's algorithm step for step: the
  window ``max(len)/2 - 1``, matches found walking the second string, transpositions
  halved with integer division, and the Winkler step ``jaro + prefix × 0.1 × (1 − jaro)``
  for ``jaro > 0.7`` computed as one fused multiply-add (``Math.fma``), because DuckDB's
  build fuses it and the result is then identical to the last bit (0.92, not
  0.9199999999999999, for ``115 heol newydd``/``122 heol newydd``). The test checks this
  bit for bit against DuckDB on real and adversarial strings.
* **Damerau-Levenshtein** runs through the jar's ``damerau_levenshtein``. The model only
  asks whether the distance is at most 1 (one insertion, deletion, substitution or swap of
  neighbours), where every definition of the distance agrees.

Any other function in a model's SQL stops the run (``UnsupportedSQL``) rather than risk a
function that has the same name and a different meaning on Spark.

Training stays on DuckDB (``cylch link train``): the model is one JSON file either way.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from copy import deepcopy
from typing import Any

import sqlglot
from sqlglot import exp

from cylch.identity.linkage.batch import BatchResult, clustered, comparison_counts
from cylch.identity.linkage.model import LinkageModel, blocking_rules_for, quiet

INSTALL_HINT = (
    "install the spark extra (pip install -e '.[spark]' in a checkout; the dev extra has it too) and Java 17+"
)
DEFAULT_MASTER = "local[2]"
DEFAULT_DRIVER_MEMORY = "2g"
# Local mode on a small machine: Spark's default of 200 shuffle partitions is pure overhead.
LOCAL_SHUFFLE_PARTITIONS = 4

JARO_WINKLER = "cylch_jaro_winkler"
# DuckDB's jaro_winkler_similarity in Spark SQL (see the module docstring). B is the match
# window. Walking s2, `masked` is s1 with each matched character replaced by char(0), so
# `locate` finds the first unmatched s1 character in the window natively (inputs never hold
# char(0): features.prepare folds text to letters, digits and spaces); `matched2` collects
# s2's matched characters in order, and s1's in order are read back from `masked` at the end.
# `aggregate(array(x), ..., (_, v) -> ...)` binds a value once.
_JARO_WINKLER_SQL = """
CREATE OR REPLACE TEMPORARY FUNCTION {name}(s1 STRING, s2 STRING) RETURNS DOUBLE RETURN
CASE
  WHEN s1 IS NULL OR s2 IS NULL THEN CAST(NULL AS DOUBLE)
  WHEN length(s1) = 0 OR length(s2) = 0 THEN CAST(0 AS DOUBLE)
  WHEN length(s1) = 1 AND length(s2) = 1 THEN IF(s1 = s2, CAST(1 AS DOUBLE), CAST(0 AS DOUBLE))
  ELSE aggregate(
    sequence(0, length(s2) - 1),
    named_struct('masked', s1, 'matched2', ''),
    (acc, j) -> aggregate(
      array(locate(substring(s2, j + 1, 1), substring(acc.masked, greatest(0, j - {B}) + 1,
                   least(j + {B}, length(s1) - 1) - greatest(0, j - {B}) + 1))),
      acc,
      (a, p) -> IF(p = 0, a, named_struct(
        'masked', overlay(a.masked PLACING char(0) FROM greatest(0, j - {B}) + p FOR 1),
        'matched2', concat(a.matched2, substring(s2, j + 1, 1))))
    ),
    acc -> aggregate(
      array(length(acc.matched2)),
      CAST(0 AS DOUBLE),
      (_, m) -> IF(m = 0, CAST(0 AS DOUBLE), aggregate(
        array((m / length(s1) + m / length(s2) + (m - (size(filter(
          zip_with(
            filter(transform(sequence(1, length(s1)), k -> IF(substring(acc.masked, k, 1) = char(0),
                                                                substring(s1, k, 1), NULL)), c -> c IS NOT NULL),
            transform(sequence(1, m), k -> substring(acc.matched2, k, 1)),
            (x, y) -> x <> y),
          z -> z)) div 2)) / m) / CAST(3 AS DOUBLE)),
        CAST(0 AS DOUBLE),
        (_, jaro) -> IF(jaro > CAST(0.7 AS DOUBLE),
          CAST(reflect('java.lang.Math', 'fma',
            CASE WHEN substring(s1, 1, 1) <> substring(s2, 1, 1) THEN 0
                 WHEN least(length(s1), length(s2)) < 2 OR substring(s1, 1, 2) <> substring(s2, 1, 2) THEN 1
                 WHEN least(length(s1), length(s2)) < 3 OR substring(s1, 1, 3) <> substring(s2, 1, 3) THEN 2
                 WHEN least(length(s1), length(s2)) < 4 OR substring(s1, 1, 4) <> substring(s2, 1, 4) THEN 3
                 ELSE 4 END * CAST(0.1 AS DOUBLE),
            CAST(1 AS DOUBLE) - jaro, jaro) AS DOUBLE),
          jaro)
      ))
    )
  )
END
""".replace("{B}", "(greatest(length(s1), length(s2)) div 2 - 1)").replace("{name}", JARO_WINKLER)

# Spark refuses a SQL function inside a lambda ("Lambda function with SQL UDF in a higher order
# function"), as in the misspelt-form level's transform over a list: there the same body is written
# out in place, with the two arguments put for s1 and s2 (its own lambdas name no ``v``, the only
# variable a model's lambda uses, so nothing is captured).
_JARO_WINKLER_BODY = _JARO_WINKLER_SQL.split("RETURNS DOUBLE RETURN", 1)[1].strip()
_INLINE = "CYLCH_JARO_WINKLER_INLINE"
_INLINE_CALL = re.compile(_INLINE + r"\((\w+|`\w+`), (\w+|`\w+`)\)")


def _inline_jaro_winkler(sql: str) -> str:
    def body(m: re.Match) -> str:
        args = {"s1": m.group(1), "s2": m.group(2)}
        return "(" + re.sub(r"\bs[12]\b", lambda a: args[a.group(0)], _JARO_WINKLER_BODY) + ")"

    return _INLINE_CALL.sub(body, sql)


# Functions a model's SQL may use, by what they become on Spark.
# DuckDB's list_contains, list_transform (with a lambda) and list_max are Spark's array_contains,
# transform and array_max: list first, the same nulls (the max of an empty or null list is null).
_SAME_ON_SPARK = (exp.ArrayContains, exp.Transform, exp.ArrayMax)
_JAR_FUNCTIONS = {"damerau_levenshtein"}


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing: the message says what to install."""


class UnsupportedSQL(ValueError):
    """A model's SQL uses a function with no checked Spark equivalent."""


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(f"The Spark engine needs pyspark, which is not installed: {INSTALL_HINT}.") from None


def to_spark_sql(sql: str) -> str:
    """One condition or blocking rule of a saved (DuckDB) model, in Spark SQL with the same meaning."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in tree.find_all(exp.Func):
        if isinstance(node, (exp.Connector, exp.JarowinklerSimilarity, *_SAME_ON_SPARK)):  # AND/OR are Funcs too
            continue
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in _JAR_FUNCTIONS:
            continue
        raise UnsupportedSQL(
            f"{node.sql('duckdb')!r} in {sql!r} has no checked Spark equivalent: "
            "add one to cylch.identity.linkage.spark before running this model on Spark."
        )

    def rename(node):
        if isinstance(node, exp.JarowinklerSimilarity):
            name = _INLINE if node.find_ancestor(exp.Lambda) else JARO_WINKLER
            return exp.Anonymous(this=name, expressions=[node.this, node.expression])
        return node

    return _inline_jaro_winkler(tree.transform(rename).sql(dialect="spark"))


def spark_settings(splink_settings: dict[str, Any]) -> dict[str, Any]:
    """A saved model's Splink settings for the Spark backend: only the SQL is translated."""
    settings = deepcopy(splink_settings)
    settings["sql_dialect"] = "spark"
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level["sql_condition"].strip().upper() != "ELSE":
                level["sql_condition"] = to_spark_sql(level["sql_condition"])
    rules = []
    for rule in settings.get("blocking_rules_to_generate_predictions", []):
        if isinstance(rule, dict):
            rules.append({**rule, "blocking_rule": to_spark_sql(rule["blocking_rule"]), "sql_dialect": "spark"})
        else:
            rules.append(to_spark_sql(rule))
    settings["blocking_rules_to_generate_predictions"] = rules
    return settings


@contextmanager
def _quiet_pyspark():
    """pyspark warns that it has not been certified with pandas 3; nothing here goes through pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


def _is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def session(*, master: str = DEFAULT_MASTER, driver_memory: str = DEFAULT_DRIVER_MEMORY, app_name: str = "cylch-link"):
    """A Spark session with Splink's similarity jar and Cylch's SQL functions.

    In local mode the session stays on the loopback interface, runs no web UI, and uses
    ``LOCAL_SHUFFLE_PARTITIONS`` shuffle partitions. For a cluster (``spark://…``, ``yarn``,
    ``k8s://…``) only the master, the jar and the driver memory are set here; everything else
    comes from the cluster's ``spark-defaults.conf`` as usual (docs/linkage.md).
    """
    require_pyspark()
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable(f"The Spark engine needs Java (17 or later), and none was found: {INSTALL_HINT}.")
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.showConsoleProgress", "false")
    )
    if _is_local(master):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
            .config("spark.default.parallelism", str(LOCAL_SHUFFLE_PARTITIONS))
            # Spark makes an empty "spark-warehouse" folder for its catalog: not in the work tree.
            .config("spark.sql.warehouse.dir", os.path.join(tempfile.gettempdir(), "cylch-spark-warehouse"))
        )
    try:
        with _quiet_pyspark():
            spark = builder.getOrCreate()
    except Exception as exc:
        if "JAVA_GATEWAY_EXITED" in str(exc) or "Java gateway process exited" in str(exc):
            raise SparkUnavailable(f"Spark could not start Java ({exc}): {INSTALL_HINT}.") from exc
        raise
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register_functions(spark) -> None:
    """Splink's jar functions (``damerau_levenshtein``…) and ``cylch_jaro_winkler``, on this session."""
    from pyspark.errors import AnalysisException
    from splink.internals.spark.jar_location import get_scala_udfs

    try:
        for name, java_class, return_type in get_scala_udfs():
            spark.udf.registerJavaFunction(name, java_class, return_type)
    except AnalysisException as exc:
        raise SparkUnavailable(
            "This Spark session cannot load Splink's similarity jar: start it with "
            "cylch.identity.linkage.spark.session(), or add splink.backends.spark.similarity_jar_location() "
            f"to spark.jars. ({exc})"
        ) from exc
    spark.sql(_JARO_WINKLER_SQL)


def _ids_and_trusted(rows_table) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Every record id, and the trusted identifiers the clustering guard compares."""
    import pyarrow as pa

    cols = ["unique_id", "nhs_number", "pupil_number"]
    table = rows_table.select(cols) if isinstance(rows_table, pa.Table) else rows_table.select(*cols).toArrow()
    ids = table.column("unique_id").to_pylist()
    trusted: dict[str, dict[str, str]] = {}
    for uid, nhs, upn in zip(ids, table.column("nhs_number").to_pylist(), table.column("pupil_number").to_pylist(),
                             strict=True):  # fmt: skip
        if nhs or upn:
            trusted[uid] = {k: v for k, v in (("nhs_number", nhs), ("pupil_number", upn)) if v}
    return ids, trusted


def run_spark(
    rows_table,
    model: LinkageModel,
    *,
    spark=None,
    master: str = DEFAULT_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    train: bool = False,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: set[frozenset[str]] | None = None,
    count_blocking: bool = False,
    progress: Callable[[str], None] | None = None,
    break_lineage: str = "persist",
) -> tuple[BatchResult, LinkageModel]:
    """Link a prepared table on Spark with a saved model; the result is what ``run_duckdb`` gives.

    ``rows_table`` is a pyarrow table from ``features.to_arrow`` or a Spark DataFrame with the
    same columns (e.g. prepared rows read from Parquet on a cluster). ``spark`` is a session to
    use as it is; without one, the active session is used, else a new one is started on
    ``master`` and stopped at the end. ``break_lineage`` is Splink's ``break_lineage_method``:
    ``persist`` keeps intermediate tables in executor memory and disk; ``parquet`` writes
    them to the session's checkpoint directory instead.
    """
    if train:
        raise ValueError("The Spark engine runs a saved model; train it on DuckDB (`cylch link train`).")
    require_pyspark()
    from pyspark.sql import SparkSession
    from splink import Linker
    from splink.backends.spark import SparkAPI

    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    own_session = False
    if spark is None:
        spark = SparkSession.getActiveSession()
        if spark is None:
            say(f"starting Spark ({master})")
            spark = session(master=master, driver_memory=driver_memory)
            own_session = True
    try:
        register_functions(spark)
        timings["session"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        if hasattr(rows_table, "createOrReplaceTempView"):
            frame = rows_table
        else:
            # Rows from this process would otherwise ride inside every query plan Splink builds
            # on them (a LocalRelation), which runs the driver out of memory at 100,000 records:
            # hand them to the executors once, and cut them out of the lineage.
            with _quiet_pyspark():
                frame = spark.createDataFrame(rows_table)
            frame = frame.repartition(spark.sparkContext.defaultParallelism).localCheckpoint(eager=True)
        timings["load"] = round(time.perf_counter() - started, 2)
        model = model.for_population(rows_table.num_rows if hasattr(rows_table, "num_rows") else frame.count())
        api = SparkAPI(spark_session=spark, break_lineage_method=break_lineage)
        settings = spark_settings(model.splink)
        blocking = []
        if count_blocking:
            started = time.perf_counter()
            blocking = blocking_counts(api, frame, set(model.fields))
            timings["blocking"] = round(time.perf_counter() - started, 2)
        say("scoring pairs")
        started = time.perf_counter()
        linker = Linker(api.register(frame), settings)
        quiet()
        predictions = linker.inference.predict(threshold_match_weight=model.review_weight)
        pairs = predictions.as_spark_dataframe().select("unique_id_l", "unique_id_r", "match_weight").toArrow()
        edges = list(
            zip(
                pairs.column("unique_id_l").to_pylist(),
                pairs.column("unique_id_r").to_pylist(),
                pairs.column("match_weight").to_pylist(),
                strict=True,
            )
        )
        linker.table_management.delete_tables_created_by_splink_from_db()
        timings["predict"] = round(time.perf_counter() - started, 2)
        say("clustering")
        started = time.perf_counter()
        ids, trusted = _ids_and_trusted(rows_table)
    finally:
        if own_session:
            spark.stop()
    result = clustered(ids, edges, model=model, trusted=trusted, must_link=must_link, cannot_link=cannot_link,
                       timings=timings, blocking=blocking, started=started)  # fmt: skip
    return result, model


def blocking_counts(api, frame, fields: set[str]) -> list[dict[str, Any]]:
    """``batch.blocking_counts`` on Spark: exact comparisons per blocking rule."""
    rules = blocking_rules_for(fields)
    return comparison_counts(api.register(frame), rules, [to_spark_sql(r.sql) for r in rules])
