"""Type stubs of the extension module built from crates/py (PyO3, abi3)."""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple

import pyarrow as pa

__version__: str

class SalescastError(ValueError):
    """Bad input or settings: the message names the field, the row or the setting."""

def fit_series(
    dates: Any,
    values: Any,
    horizon: int,
    level: float = 95.0,
    folds: Optional[int] = None,
    fold_days: Optional[int] = None,
    holidays: bool = False,
    fill_missing_zero: bool = False,
) -> Tuple[pa.Table, dict]:
    """Fits one series (Arrow arrays of dates and values, rows in any order) as
    ``salescast forecast-many`` does; returns the forecast table and what was chosen
    (``model``, ``cv_mase``, ``fallback_reason``, ``days``, ``first_date``, ``filled_days``)."""

def clean(frame: Any, test_days: int = 90, outlier_k: float = 3.0) -> Tuple[pa.Table, pa.Table, str, str]:
    """Cleans raw contract rows: (cleaned rows, rejected rows, report JSON, statistics JSON)."""

def features(
    frame: Any,
    models_dir: Optional[str] = None,
    cleaning: Optional[str] = None,
    scale: bool = False,
) -> pa.Table:
    """Model features with the saved transform of ``models_dir`` or one fitted with the
    cleaning statistics JSON."""

def drift(reference: Any, current: Any, drift_share: float = 0.5, categorical: Sequence[str] = ...) -> str:
    """Per-column and dataset drift (the monitor's tests), as JSON."""

class Predictor:
    """A loaded models directory."""

    @staticmethod
    def load(models_dir: str | os.PathLike[str], present_only: bool = False) -> Predictor: ...
    @property
    def champion(self) -> str: ...
    @property
    def models(self) -> list[str]: ...
    def predict(self, frame: Any, model: Optional[str] = None) -> pa.Table:
        """``predicted_revenue`` and ``error``, one row per input row."""
