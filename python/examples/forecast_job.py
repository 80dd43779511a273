"""A nightly Spark job: every series of a long table forecast with salescast, and optionally
every row of a transactions table scored with a models directory.

    spark-submit --master local[2] python/examples/forecast_job.py \\
        --series long.parquet --id-col sku --date-col day --value-col units --horizon 28 \\
        --out forecasts.parquet [--rows raw.parquet --models-dir models --scored-out scored.parquet]

Inputs may be CSV (header row) or Parquet, on any file system Spark reads.
"""

from __future__ import annotations

import argparse

from pyspark.sql import SparkSession

from salescast.spark import forecast_groups, score


def read(spark: SparkSession, path: str):
    if path.endswith(".csv"):
        return spark.read.csv(path, header=True)
    return spark.read.parquet(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", required=True, help="long table: one row per series and day")
    ap.add_argument("--id-col", default="id")
    ap.add_argument("--date-col", default="date")
    ap.add_argument("--value-col", default="value")
    ap.add_argument("--horizon", type=int, required=True)
    ap.add_argument("--level", type=float, default=95.0)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", required=True, help="forecasts (Parquet)")
    ap.add_argument("--rows", help="contract rows to score")
    ap.add_argument("--models-dir", help="models directory for --rows")
    ap.add_argument("--scored-out", help="scored rows (Parquet)")
    ap.add_argument("--no-ship", action="store_true",
                    help="--models-dir is already on every executor (e.g. spark-submit --archives)")
    a = ap.parse_args()
    if a.rows and not (a.models_dir and a.scored_out):
        ap.error("--rows needs --models-dir and --scored-out")

    spark = SparkSession.builder.appName("salescast-nightly").getOrCreate()
    df = read(spark, a.series)
    if a.series.endswith(".csv"):
        df = df.withColumn(a.date_col, df[a.date_col].cast("date")).withColumn(a.value_col, df[a.value_col].cast("double"))
    forecast_groups(df, a.id_col, a.date_col, a.value_col, a.horizon, a.level, folds=a.folds) \\
        .write.mode("overwrite").parquet(a.out)
    if a.rows:
        score(read(spark, a.rows), a.models_dir, ship=not a.no_ship).write.mode("overwrite").parquet(a.scored_out)
    spark.stop()


if __name__ == "__main__":
    main()
