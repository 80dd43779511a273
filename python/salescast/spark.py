"""Salescast on Apache Spark: per-series forecasting through ``groupBy().applyInPandas`` and
batch scoring through ``mapInArrow``. Each executor runs the same Rust code as
``salescast forecast-many`` and ``salescast predict``, so the results are the same.

The models directory reaches the executors through ``SparkContext.addFile`` (a local path is
shipped by the driver) or as a path every executor can read (a shared file system or a URI
mounted on each node); pass ``ship=False`` for the latter.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Optional

import pyarrow as pa

from . import Predictor, SalescastError, forecast_group
from ._native import __version__  # noqa: F401  (the executors' version, for debugging)

__all__ = ["forecast_groups", "score", "forecast_schema"]


def _level_label(level: float) -> str:
    text = repr(float(level))
    return text[:-2] if text.endswith(".0") else text


def forecast_schema(df: Any, id_col: str, date_col: str, level: float) -> Any:
    """The schema of :func:`forecast_groups`' result: the id column as in ``df``, the date,
    the model, the mean, the interval bounds, and per series ``cv_mase`` and
    ``fallback_reason``."""
    from pyspark.sql import types as T

    id_type = df.schema[id_col].dataType
    lab = _level_label(level)
    return T.StructType(
        [
            T.StructField(id_col, id_type, False),
            T.StructField(date_col, T.DateType(), False),
            T.StructField("model", T.StringType(), False),
            T.StructField("mean", T.DoubleType(), False),
            T.StructField(f"lower_{lab}", T.DoubleType(), False),
            T.StructField(f"upper_{lab}", T.DoubleType(), False),
            T.StructField("cv_mase", T.DoubleType(), True),
            T.StructField("fallback_reason", T.StringType(), True),
        ]
    )


def forecast_groups(
    df: Any,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    level: float = 95.0,
    **options: Any,
) -> Any:
    """Forecasts every series of a long Spark DataFrame (one row per series and day), one
    series per ``applyInPandas`` call, with ``salescast forecast-many``'s selection and
    fallback. ``options``: ``folds``, ``fold_days``, ``holidays``, ``fill_missing_zero``.
    """
    for c in (id_col, date_col, value_col):
        if c not in df.columns:
            raise SalescastError(f"{c}: no such column (columns: {', '.join(df.columns)})")
    if not (1 <= horizon <= 366):
        raise SalescastError(f"horizon {horizon} must be between 1 and 366 days")
    schema = forecast_schema(df, id_col, date_col, level)

    def fit(pdf: Any) -> Any:
        return forecast_group(pdf, id_col, date_col, value_col, horizon, level, **options)

    return df.select(id_col, date_col, value_col).groupBy(id_col).applyInPandas(fit, schema)


_PREDICTORS: dict = {}


def _predictor(path: str) -> Predictor:
    """The models directory loaded once per Python worker process."""
    p = _PREDICTORS.get(path)
    if p is None:
        p = Predictor.load(path)
        _PREDICTORS[path] = p
    return p


def score(
    df: Any,
    models_dir: str,
    model: Optional[str] = None,
    *,
    ship: bool = True,
) -> Any:
    """Scores every row of a Spark DataFrame of contract rows: its columns plus
    ``predicted_revenue`` (null where the row could not be scored) and ``error``, through
    ``mapInArrow`` (Arrow batches straight to the Rust scorer, no pandas in between).

    With ``ship`` (the default) a local ``models_dir`` is sent to the executors with
    ``SparkContext.addFile``; without it, ``models_dir`` must be readable on every executor.
    """
    from pyspark import SparkFiles
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T

    models_dir = os.fspath(models_dir)
    name = models_dir
    if ship:
        # Fail on the driver, with the reason, rather than in every task.
        Predictor.load(models_dir)
        spark = SparkSession.getActiveSession() or df.sparkSession
        spark.sparkContext.addFile(os.path.abspath(models_dir), recursive=True)
        name = os.path.basename(os.path.normpath(models_dir))
    schema = T.StructType(
        list(df.schema.fields)
        + [
            T.StructField("predicted_revenue", T.DoubleType(), True),
            T.StructField("error", T.StringType(), True),
        ]
    )

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        path = SparkFiles.get(name) if ship else models_dir
        p = _predictor(path)
        for batch in batches:
            scored = p.predict(batch, model=model)
            columns = list(batch.columns) + [
                scored.column("predicted_revenue").combine_chunks(),
                scored.column("error").combine_chunks(),
            ]
            yield pa.RecordBatch.from_arrays(columns, names=schema.fieldNames())

    return df.mapInArrow(run, schema)
