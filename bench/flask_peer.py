"""The seed's serving stack, as the peer of salescast-api: Flask on waitress, pandas per request,
a scikit-learn RandomForestRegressor(n_estimators=100) behind a ColumnTransformer.

    .venv/bin/python bench/flask_peer.py --clean data/processed/clean.parquet --port 5002 [--train-rows 50000]

Routes: POST /predict (one JSON object), POST /predict_batch_csv (multipart `file`), GET /health.
The model is trained at start on a sample of the cleaned data (the full 300,000 rows take
scikit-learn minutes); the per-request work is what the seed did.
"""

import argparse

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request, Response
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from waitress import serve

CATEGORICAL = ["store_id", "product_id", "category", "customer_segment", "payment_method"]
NUMERIC = ["unit_price", "discount", "promotion", "dayofweek", "month", "day", "dayofyear", "is_weekend"]


def prepare(df):
    df = df.copy()
    d = pd.to_datetime(df["date"], errors="coerce")
    df["dayofweek"], df["month"], df["day"] = d.dt.dayofweek, d.dt.month, d.dt.day
    df["dayofyear"], df["is_weekend"] = d.dt.dayofyear, (d.dt.dayofweek >= 5).astype(int)
    for c in CATEGORICAL:
        df[c] = df.get(c, pd.Series(["Unknown"] * len(df))).fillna("Unknown").astype(str)
    for c in ["unit_price", "discount", "promotion"]:
        df[c] = pd.to_numeric(df.get(c, 0), errors="coerce").fillna(0.0)
    return df[CATEGORICAL + NUMERIC]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clean", default="data/processed/clean.parquet")
    ap.add_argument("--port", type=int, default=5002)
    ap.add_argument("--train-rows", type=int, default=50_000)
    a = ap.parse_args()
    data = pd.read_parquet(a.clean).sample(n=a.train_rows, random_state=0)
    data["date"] = data["date"].astype(str)
    model = Pipeline([
        ("encode", ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORICAL)],
                                     remainder="passthrough")),
        ("rf", RandomForestRegressor(n_estimators=100, n_jobs=-1, random_state=0)),
    ])
    model.fit(prepare(data), data["revenue"].to_numpy())
    app = Flask("peer")

    @app.get("/health")
    def health():
        return jsonify(status="ok")

    @app.post("/predict")
    def predict():
        df = pd.DataFrame([request.get_json()])
        return jsonify(predicted_revenue=float(model.predict(prepare(df))[0]))

    @app.post("/predict_batch_csv")
    def batch():
        df = pd.read_csv(request.files["file"])
        df["predicted_revenue"] = model.predict(prepare(df))
        return Response(df.to_csv(index=False), mimetype="text/csv")

    serve(app, host="127.0.0.1", port=a.port, threads=8, _quiet=True)


if __name__ == "__main__":
    main()
