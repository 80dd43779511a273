"""Salescast's Rust core from Python.

Frames may be pandas, polars or pyarrow (anything exporting ``__arrow_c_stream__``); they reach
the Rust side through the Arrow C data interface, so their buffers are read in place: ``float64``
and ``date32`` columns as slices, string columns as ``&str`` cells. Results come back as the
input's kind of frame. The GIL is released while the Rust side works.

Errors from bad input or settings raise :class:`SalescastError` (a ``ValueError``) whose
message names the field, the row or the setting.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

import pyarrow as pa

from . import _native
from ._native import SalescastError, __version__

__all__ = [
    "SalescastError",
    "CleanResult",
    "SeriesForecast",
    "Predictor",
    "clean",
    "features",
    "forecast",
    "fit_series",
    "forecast_group",
    "drift",
    "__version__",
]


def _kind(frame: Any) -> str:
    module = type(frame).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        return module
    return "arrow"


def _to_arrow(frame: Any) -> Any:
    """A frame as something the native side reads as an Arrow stream."""
    kind = _kind(frame)
    if kind == "pandas":
        return pa.Table.from_pandas(frame, preserve_index=False)
    if kind == "polars":
        return frame.to_arrow()
    if isinstance(frame, (pa.Table, pa.RecordBatch)) or hasattr(frame, "__arrow_c_stream__"):
        return frame
    raise SalescastError(
        f"frame must be a pandas, polars or pyarrow table, not {type(frame).__name__}"
    )


def _like(table: pa.Table, kind: str) -> Any:
    """A result table as the caller's kind of frame."""
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


@dataclass
class CleanResult:
    """What :func:`clean` returns."""

    #: The cleaned rows, typed, with ``*_imputed`` and ``*_clipped`` flags.
    rows: Any
    #: Rejected rows: ``row`` (zero-based position), ``code``, ``reason``.
    rejected: Any
    #: The cleaning report, as ``salescast preprocess`` writes it.
    report: dict
    #: The statistics learned on the training days (JSON), for :func:`features`.
    stats: str


def clean(frame: Any, *, test_days: int = 90, outlier_k: float = 3.0) -> CleanResult:
    """Validates and cleans raw transactions with the pipeline's rules (the data contract).

    ``test_days``: days at the end held out (the statistics are learned on the days before).
    ``outlier_k``: k of the outlier fence Q3 + k·IQR on log1p values, per category.
    """
    kind = _kind(frame)
    rows, rejected, report, stats = _native.clean(
        _to_arrow(frame), test_days=test_days, outlier_k=outlier_k
    )
    return CleanResult(_like(rows, kind), _like(rejected, kind), json.loads(report), stats)


def features(
    frame: Any,
    *,
    models_dir: Optional[str] = None,
    cleaning: Optional[CleanResult] = None,
    scale: bool = False,
) -> Any:
    """The model features of contract rows: ``date``, one column per feature, and ``revenue``
    when present.

    With ``models_dir``, the transform saved beside the served models (what they read); with
    ``cleaning`` (a :class:`CleanResult`), a transform fitted on the frame's training days.
    """
    kind = _kind(frame)
    out = _native.features(
        _to_arrow(frame),
        models_dir=None if models_dir is None else str(models_dir),
        cleaning=None if cleaning is None else cleaning.stats,
        scale=scale,
    )
    return _like(out, kind)


@dataclass
class SeriesForecast:
    """One series' forecast and what was chosen for it."""

    #: ``date``, ``model``, ``mean``, ``lower_<level>``, ``upper_<level>``.
    forecast: Any
    #: The chosen model, e.g. ``sarima(1,0,1)(0,1,1,7)`` or ``seasonal_naive(7)``.
    model: str
    #: Its mean cross-validated MASE (``None`` when the series was too short for the folds).
    cv_mase: Optional[float]
    #: Why the series got the seasonal-naive fallback (``None`` when it did not).
    fallback_reason: Optional[str]
    days: int
    first_date: _dt.date
    filled_days: int


def _series_columns(series: Any, start: Any, date_col: str, value_col: str):
    """Dates and values of a series given as a pandas Series with a date index, a frame with a
    date and a value column, or values plus ``start``."""
    kind = _kind(series)
    if start is not None:
        values = pa.array(series.to_numpy() if kind in ("pandas", "polars") else series, pa.float64())
        first = _dt.date.fromisoformat(str(start)[:10])
        dates = pa.array([first + _dt.timedelta(days=i) for i in range(len(values))], pa.date32())
        return dates, values
    if kind == "pandas" and hasattr(series, "index") and not hasattr(series, "columns"):
        import pandas as pd

        index = series.index
        if not isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex)):
            raise SalescastError(
                "series: a pandas Series needs a DatetimeIndex (or give start=)"
            )
        days = index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index
        return pa.array(days.date, pa.date32()), pa.array(series.to_numpy(), pa.float64())
    if kind == "polars" and not hasattr(series, "columns"):
        raise SalescastError(
            "series: a polars Series carries no dates; give start= or a DataFrame with "
            f"{date_col} and {value_col} columns"
        )
    table = _to_arrow(series)
    if not isinstance(table, pa.Table):
        table = pa.table(table)
    for c in (date_col, value_col):
        if c not in table.column_names:
            raise SalescastError(
                f"{c}: no such column (columns: {', '.join(table.column_names)})"
            )
    return table.column(date_col), table.column(value_col)


def fit_series(
    series: Any,
    horizon: int,
    level: float = 95.0,
    *,
    start: Any = None,
    date_col: str = "date",
    value_col: str = "value",
    folds: Optional[int] = None,
    fold_days: Optional[int] = None,
    holidays: bool = False,
    fill_missing_zero: bool = False,
) -> SeriesForecast:
    """Fits one series exactly as ``salescast forecast-many`` fits each of its series.

    The candidates (automatic SARIMA orders, MSTL+ETS, the Prophet-like additive model, Theta, ETS,
    their combinations) are compared by rolling-origin backtests (``folds`` windows of
    ``fold_days``, default the horizon, at least 7; by default as many windows as fit in a
    year, 3 to 8; plus the forecast's season one year earlier) on MASE; the best is refitted on
    every day, its intervals calibrated on the backtest. A series too short or constant
    gets the weekly seasonal-naive forecast and the reason. ``holidays`` adds the pipeline's
    calendar regressors to the SARIMA candidates. Rows may come in any order; a missing day is
    refused unless ``fill_missing_zero``.
    """
    kind = _kind(series)
    dates, values = _series_columns(series, start, date_col, value_col)
    table, info = _native.fit_series(
        dates,
        values,
        horizon,
        level=level,
        folds=folds,
        fold_days=fold_days,
        holidays=holidays,
        fill_missing_zero=fill_missing_zero,
    )
    return SeriesForecast(forecast=_like(table, kind), **info)


def forecast(series: Any, horizon: int, level: float = 95.0, **options: Any) -> Any:
    """The forecast of one series (see :func:`fit_series` for the series and the options):
    ``date``, ``model``, ``mean``, ``lower_<level>``, ``upper_<level>``."""
    return fit_series(series, horizon, level, **options).forecast


def forecast_group(
    pdf: Any,
    id_col: str,
    date_col: str,
    value_col: str,
    horizon: int,
    level: float = 95.0,
    **options: Any,
) -> Any:
    """One group of a long pandas frame (one series) forecast as ``forecast-many`` does, in
    its output's layout plus the per-series columns: ``<id_col>``, ``<date_col>``, ``model``,
    ``mean``, ``lower_<level>``, ``upper_<level>``, ``cv_mase``, ``fallback_reason``. The body
    of :func:`salescast.spark.forecast_groups`' ``applyInPandas``.
    """
    ids = pdf[id_col].unique()
    if len(ids) != 1:
        raise SalescastError(f"{id_col}: a group must hold one series, got {len(ids)}")
    fit = fit_series(
        pdf, horizon, level, date_col=date_col, value_col=value_col, **options
    )
    out = fit.forecast.rename(columns={"date": date_col})
    out.insert(0, id_col, ids[0])
    out["cv_mase"] = fit.cv_mase
    out["fallback_reason"] = fit.fallback_reason
    return out


def drift(
    reference: Any,
    current: Any,
    *,
    drift_share: float = 0.5,
    categorical: Sequence[str] = (),
) -> dict:
    """Drift of every column the two frames share, with the monitor's tests and thresholds
    (Evidently's conventions: the test by column type and reference size, Sturges bins,
    PSI/Jensen-Shannon/Wasserstein/KS/chi-squared/z), and dataset drift at ``drift_share``.

    Number columns are numerical unless named in ``categorical``; the rest categorical.
    """
    report = _native.drift(
        _to_arrow(reference),
        _to_arrow(current),
        drift_share=drift_share,
        categorical=list(categorical),
    )
    return json.loads(report)


class Predictor:
    """A models directory written by ``salescast train``, loaded once, scoring frames of
    contract rows with the same parser, transform and models as ``salescast predict`` and the
    API."""

    def __init__(self, native: Any, models_dir: str):
        self._native = native
        self.models_dir = models_dir

    @classmethod
    def load(
        cls, models_dir: Union[str, "os.PathLike[str]"], present_only: bool = False
    ) -> "Predictor":
        """Loads and checks ``models_dir`` (manifest, transform, both tree models). With
        ``present_only``, a registered version's folder: the models its manifest names that
        are there (at least one), the champion falling back to one of them."""
        native = _native.Predictor.load(str(models_dir), present_only=present_only)
        return cls(native, str(models_dir))

    @property
    def champion(self) -> str:
        """The champion model's name."""
        return self._native.champion

    @property
    def models(self) -> list:
        """The loaded models' names."""
        return list(self._native.models)

    def predict(self, frame: Any, model: Optional[str] = None) -> Any:
        """``predicted_revenue`` (null where the row could not be scored) and ``error`` (why,
        naming the fields), one row per input row, with ``model`` (default: the champion)."""
        kind = _kind(frame)
        return _like(self._native.predict(_to_arrow(frame), model=model), kind)

