"""Seeded daily series for the many-series benchmarks: two years of history plus a held-out
window per series, with store-by-product-like shapes (level, trend, weekly and yearly
seasonality, autocorrelated noise; one in ten a low-volume count series).

    .venv/bin/python bench/many_series.py --series 1000 --days 730 --holdout 28 --out /tmp/many
writes train.csv (id,date,value: the history) and holdout.csv (the next days) there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib

import numpy as np
import pandas as pd


def generate(series: int, days: int, holdout: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    total = days + holdout
    t = np.arange(total)
    start = dt.date(2023, 1, 2)
    dates = pd.Series(pd.date_range(start, periods=total, freq="D").date)
    frames = []
    for s in range(series):
        if s % 10 == 9:
            lam = rng.uniform(0.5, 6.0) * (1 + 0.3 * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 7)))
            y = rng.poisson(lam).astype(float)
        else:
            level = rng.lognormal(4.5, 0.8)
            weekly = 1 + rng.normal(0, 0.18, 7)
            amp = rng.uniform(0.0, 0.35)
            phase = rng.uniform(0, 365)
            trend = rng.normal(0, 0.0004)
            noise = np.zeros(total)
            e = rng.normal(0, rng.uniform(0.04, 0.15), total)
            phi = rng.uniform(0.0, 0.6)
            for i in range(1, total):
                noise[i] = phi * noise[i - 1] + e[i]
            y = level * (1 + trend * t) * weekly[t % 7] * (1 + amp * np.sin(2 * np.pi * (t + phase) / 365.25)) * (1 + noise)
            y = np.round(np.maximum(y, 0.0), 2)
        frames.append(pd.DataFrame({"id": f"item{s:05d}", "date": dates, "value": y}))
    return pd.concat(frames, ignore_index=True)


def split(df: pd.DataFrame, holdout: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = sorted(df.date.unique())[-holdout]
    return df[df.date < last].reset_index(drop=True), df[df.date >= last].reset_index(drop=True)


def mase(train: pd.DataFrame, holdout: pd.DataFrame, forecast: pd.DataFrame, column: str) -> pd.Series:
    """Per-series MASE on the held-out days, scaled by the in-sample weekly seasonal-naive MAE
    (the same scaling as the cross-validation's)."""
    scale = train.groupby("id").value.apply(lambda v: np.mean(np.abs(v.to_numpy()[7:] - v.to_numpy()[:-7])))
    f = forecast[["id", "date", column]].merge(holdout, on=["id", "date"], how="inner")
    mae = (f[column] - f.value).abs().groupby(f.id).mean()
    return (mae / scale).replace([np.inf, -np.inf], np.nan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--holdout", type=int, default=28)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    train, hold = split(generate(a.series, a.days, a.holdout, a.seed), a.holdout)
    train.to_csv(a.out / "train.csv", index=False)
    hold.to_csv(a.out / "holdout.csv", index=False)


if __name__ == "__main__":
    main()
