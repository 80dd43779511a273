"""The pandas peer of `salescast pipeline` (preprocess + features), for the benchmark.

It does the same work the way a pandas team would write it, vectorised: read every cell as text,
validate against the data contract (rejecting bad rows with a reason), drop repeated ids, split by
date, impute blanks and clip outliers with statistics from the training days, build calendar
features and ordinal encodings, aggregate the zero-filled daily series with lags and rolling
statistics, and write the same Parquet files.

Usage: pandas_peer.py INPUT.csv OUT_DIR [TEST_DAYS]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def holidays(years):
    """The same calendar as salescast-core's."""
    out = []
    for y in years:
        a, b, c = y % 19, y // 100, y % 100
        d, e = b // 4, b % 4
        f = (b + 8) // 25
        g = (b - f + 1) // 3
        h = (19 * a + b - d - g + 15) % 30
        i, k = c // 4, c % 4
        l = (32 + 2 * e + 2 * i - h - k) % 7
        m = (a + 11 * h + 22 * l) // 451
        month = (h + l - 7 * m + 114) // 31
        day = (h + l - 7 * m + 114) % 31 + 1
        nov1 = pd.Timestamp(y, 11, 1)
        thanks = nov1 + pd.Timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        out += [pd.Timestamp(y, 1, 1), pd.Timestamp(y, 2, 14), pd.Timestamp(y, month, day),
                pd.Timestamp(y, 7, 4), thanks, thanks + pd.Timedelta(days=1),
                thanks + pd.Timedelta(days=4), pd.Timestamp(y, 12, 24), pd.Timestamp(y, 12, 25),
                pd.Timestamp(y, 12, 26), pd.Timestamp(y, 12, 31)]
    return pd.DatetimeIndex(sorted(out))


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    test_days = int(sys.argv[3]) if len(sys.argv) > 3 else 90
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    raw = pd.read_csv(src, dtype=str, keep_default_na=False)
    df = raw.apply(lambda s: s.str.strip())
    reason = pd.Series("", index=df.index)

    def reject(mask, text):
        reason[mask & (reason == "")] = text

    date = pd.to_datetime(df["date"].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    reject(date.isna(), "date: bad_date")
    num = {}
    for col, required in [("unit_price", False), ("quantity", True), ("revenue", True)]:
        v = pd.to_numeric(df[col], errors="coerce")
        blank = df[col] == ""
        if required:
            reject(blank, f"{col}: missing")
        reject(~blank & v.isna(), f"{col}: not_a_number")
        reject(v < 0, f"{col}: negative")
        num[col] = v
    disc = pd.to_numeric(df["discount"].replace("", "0"), errors="coerce")
    reject(disc.isna(), "discount: not_a_number")
    reject(disc >= 1, "discount: out_of_range")
    flags = df["promotion"].str.lower().map({"1": 1, "true": 1, "yes": 1, "0": 0, "false": 0, "no": 0, "": 0})
    reject(flags.isna(), "promotion: bad_flag")

    bad = reason != ""
    ids = df["transaction_id"].where(df["transaction_id"] != "", "auto-" + (df.index + 1).astype(str))
    dup = ids.duplicated() & ~bad
    # duplicates are judged among valid rows only, as in salescast
    dup = ids.where(~bad).duplicated() & ~bad
    reason[dup] = "transaction_id: duplicate"
    rejected = raw[bad | dup].assign(reason=reason[bad | dup])
    rejected.to_csv(out / "rejected.csv", index=False)

    keep = ~(bad | dup)
    c = pd.DataFrame({
        "transaction_id": ids[keep], "date": date[keep],
        "store_id": df["store_id"][keep].replace("", "Unknown"),
        "product_id": df["product_id"][keep].replace("", "Unknown"),
        "category": df["category"][keep].replace("", np.nan),
        "unit_price": num["unit_price"][keep], "quantity": num["quantity"][keep],
        "discount": disc[keep], "promotion": flags[keep].astype(bool),
        "customer_segment": df["customer_segment"][keep].replace("", "Unknown"),
        "payment_method": df["payment_method"][keep].replace("", "Unknown"),
        "revenue": num["revenue"][keep],
    })

    last = c["date"].max()
    test_start = last - pd.Timedelta(days=test_days - 1)
    train = c["date"] < test_start
    tr = c[train]
    prod_cat = tr.dropna(subset=["category"]).groupby("product_id")["category"].agg(lambda s: s.value_counts().idxmax())
    c["category_imputed"] = c["category"].isna()
    c["category"] = c["category"].fillna(c["product_id"].map(prod_cat)).fillna("Unknown")
    tr = c[train]
    pmed = tr.groupby("product_id")["unit_price"].median()
    cmed = tr.groupby("category")["unit_price"].median()
    gmed = tr["unit_price"].median()
    ref = c["product_id"].map(pmed).fillna(c["category"].map(cmed)).fillna(gmed)
    c["unit_price_imputed"] = c["unit_price"].isna()
    c["unit_price"] = c["unit_price"].fillna(ref)

    tr = c[train]
    for col in ["quantity", "revenue"]:
        lg = np.log1p(tr[col])
        q = lg.groupby(tr["category"]).quantile([0.25, 0.75]).unstack()
        fence = np.expm1(q[0.75] + 3.0 * (q[0.75] - q[0.25]).clip(lower=0.1))
        f = c["category"].map(fence)
        c[f"{col}_clipped"] = c[col] > f
        if col == "revenue":
            cap = np.minimum(f, np.where(c["quantity_clipped"], c["unit_price"] * c["quantity"] * (1 - c["discount"]), np.inf))
            c["revenue_clipped"] = c["revenue"] > cap
            c["revenue"] = c["revenue"].where(~c["revenue_clipped"], cap)
        else:
            c[col] = c[col].where(~c[f"{col}_clipped"], f)
    c.to_parquet(out / "clean.parquet", index=False)

    # features
    hol = holidays(range(c["date"].dt.year.min() - 1, c["date"].dt.year.max() + 2))
    d = c["date"]
    feats = pd.DataFrame({
        "day_of_week": d.dt.dayofweek, "month": d.dt.month, "quarter": d.dt.quarter,
        "day_of_month": d.dt.day, "week_of_year": d.dt.isocalendar().week.astype(int),
        "is_weekend": (d.dt.dayofweek >= 5).astype(int), "is_holiday": d.isin(hol).astype(int),
    })
    hv = hol.values
    pos = np.searchsorted(hv, d.values, side="right")
    feats["days_to_next_holiday"] = (hv[pos] - d.values) / np.timedelta64(1, "D")
    pos_l = np.searchsorted(hv, d.values, side="left") - 1
    feats["days_since_last_holiday"] = (d.values - hv[pos_l]) / np.timedelta64(1, "D")
    tr = c[train]
    for col, name in [("store_id", "store_code"), ("product_id", "product_code"), ("category", "category_code"),
                      ("customer_segment", "segment_code"), ("payment_method", "payment_code")]:
        vocab = {v: i + 1 for i, v in enumerate(sorted(tr[col].unique()))}
        feats[name] = c[col].map(vocab).fillna(0)
    feats["unit_price"] = c["unit_price"]
    feats["discount"] = c["discount"]
    feats["promotion"] = c["promotion"].astype(int)
    feats["net_price"] = c["unit_price"] * (1 - c["discount"])
    feats["price_ratio"] = c["unit_price"] / ref
    feats.insert(0, "transaction_id", c["transaction_id"])
    feats.insert(1, "date", d)
    feats["revenue"] = c["revenue"]
    feats[train].to_parquet(out / "train.parquet", index=False)
    feats[~train].to_parquet(out / "test.parquet", index=False)

    days = pd.date_range(c["date"].min(), last, freq="D")
    series = [("ALL", c)] + list(c.groupby("store_id"))
    daily = []
    for name, g in series:
        s = g.groupby("date")["revenue"].agg(["sum", "count"]).reindex(days, fill_value=0)
        f = pd.DataFrame({"series": name, "date": days, "revenue": s["sum"].values, "transactions": s["count"].values})
        for lag in [1, 7, 14, 28]:
            f[f"lag_{lag}"] = f["revenue"].shift(lag)
        for w in [7, 28]:
            past = f["revenue"].shift(1)
            f[f"roll_mean_{w}"] = past.rolling(w).mean()
            f[f"roll_std_{w}"] = past.rolling(w).std()
        daily.append(f)
    daily = pd.concat(daily, ignore_index=True)
    daily["split"] = np.where(daily["date"] < test_start, "train", "test")
    daily.to_parquet(out / "daily.parquet", index=False)
    daily.to_csv(out / "daily.csv", index=False)

    print(json.dumps({"rows_in": len(raw), "rows_out": len(c), "rejected": int((bad | dup).sum()),
                      "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
