"""Reference values for the SARIMA golden tests, computed with statsmodels' SARIMAX.

Run from the repository root after `make venv` and a pipeline run (for the daily series):

    .venv/bin/python crates/sarima/tests/golden/make_golden.py

Writes one JSON file per series next to this script, holding the data, the order, statsmodels'
maximum-likelihood fit (default state-space differencing, approximate diffuse start),
30-step forecasts with 95% intervals, statsforecast AutoARIMA's chosen order, and the versions
used. The files are committed, so the tests need no Python.
"""

import csv
import json
import math
import pathlib
import warnings

import numpy as np
import statsmodels
import statsmodels.api as sm

warnings.simplefilter("ignore")
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[3]
HORIZON = 30

# Box & Jenkins' monthly international airline passengers, 1949-1960 (thousands).
AIRLINE = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
    115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
    145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194,
    196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201,
    204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229,
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278,
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306,
    315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336,
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337,
    360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405,
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
]


def fourier(t, period, k):
    cols, names = [], []
    for j in range(1, k + 1):
        cols.append([math.sin(2 * math.pi * j * i / period) for i in t])
        cols.append([math.cos(2 * math.pi * j * i / period) for i in t])
        names += [f"sin{j}", f"cos{j}"]
    return cols, names


def daily_series():
    """The all-stores daily revenue of the default pipeline, with a holiday flag and two
    yearly Fourier pairs (t counted in days from the first day)."""
    path = ROOT / "data" / "features" / "daily.csv"
    rows = [r for r in csv.DictReader(open(path)) if r["series"] == "ALL"]
    y = [float(r["revenue"]) for r in rows]
    hol = [1.0 if r["is_holiday"] == "true" else 0.0 for r in rows]
    n = len(y) - HORIZON
    cols, names = fourier(range(len(y)), 365.25, 2)
    exog = [hol] + cols
    return y[:n], ["holiday"] + names, [c[:n] for c in exog], [c[n:] for c in exog]


def auto_order(y, season):
    from statsforecast.models import AutoARIMA

    m = AutoARIMA(season_length=season).fit(np.asarray(y, dtype=float))
    p, q, P, Q, s, d, D = m.model_["arma"]
    return [p, d, q, P, D, Q, s]


def golden(name, y, order, seasonal, exog_names=(), exog=(), future=(), auto_season=None):
    y = np.asarray(y, dtype=float)
    x = np.column_stack(exog) if exog else None
    xf = np.column_stack(future) if future else None
    model = sm.tsa.SARIMAX(y, exog=x, order=order, seasonal_order=seasonal)
    # statsmodels' default L-BFGS stops early on badly scaled problems (a variance of 1e-5
    # next to coefficients of 0.5), so the reference is the best of the default fit and a
    # Nelder-Mead search polished by L-BFGS: the maximum of statsmodels' own likelihood.
    default = model.fit(disp=False)
    nm = model.fit(disp=False, start_params=default.params, method="nm", maxiter=20000, xtol=1e-10, ftol=1e-12)
    polished = model.fit(disp=False, start_params=nm.params, method="lbfgs", maxiter=2000, pgtol=1e-10, factr=10)
    res = max([default, nm, polished], key=lambda r: r.llf)
    fc = res.get_forecast(HORIZON, exog=xf)
    ci = fc.conf_int(alpha=0.05)
    out = {
        "name": name,
        "versions": {"statsmodels": statsmodels.__version__, "numpy": np.__version__},
        "y": y.tolist(),
        "exog_names": list(exog_names),
        "exog": [list(c) for c in exog],
        "future_exog": [list(c) for c in future],
        "order": list(order),
        "seasonal_order": list(seasonal),
        "param_names": list(model.param_names),
        "params": np.asarray(res.params).tolist(),
        "llf": float(res.llf),
        "llf_default_fit": float(default.llf),
        "aic": float(res.aic),
        "aicc": float(res.aicc),
        "bic": float(res.bic),
        "forecast_mean": np.asarray(fc.predicted_mean).tolist(),
        "forecast_lower_95": np.asarray(ci)[:, 0].tolist(),
        "forecast_upper_95": np.asarray(ci)[:, 1].tolist(),
    }
    if auto_season is not None:
        import statsforecast

        out["versions"]["statsforecast"] = statsforecast.__version__
        out["statsforecast_auto_order"] = auto_order(y, auto_season)
    (HERE / f"{name}.json").write_text(json.dumps(out))
    print(f"{name}: llf {res.llf:.6f} (default fit {default.llf:.6f}) params {np.round(res.params, 5)}")


def main():
    golden("airline", np.log(AIRLINE), (0, 1, 1), (0, 1, 1, 12), auto_season=12)
    elnino = sm.datasets.elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()
    golden("elnino", elnino, (1, 0, 1), (0, 1, 1, 12), auto_season=12)
    gdp = np.log(sm.datasets.macrodata.load_pandas().data["realgdp"].to_numpy())
    golden("gdp", gdp, (2, 1, 0), (1, 0, 0, 4), auto_season=4)
    y, names, exog, future = daily_series()
    golden("daily", y, (1, 1, 1), (1, 1, 1, 7), names, exog, future, auto_season=7)


if __name__ == "__main__":
    main()
