"""MLflow's ``python_function`` flavor for the models ``salescast train`` logs and registers.

Every registered version carries this module as its ``loader_module`` beside Salescast's own
flavor, so the tools MLflow users reach first work on it with this package installed::

    model = mlflow.pyfunc.load_model("models:/salescast-revenue@champion")
    model.predict(frame)                     # predicted_revenue, a float array

    mlflow models serve -m models:/salescast-revenue@champion --env-manager local

    udf = mlflow.pyfunc.spark_udf(spark, "models:/salescast-revenue@champion",
                                  env_manager="local", result_type="double")

The version's folder is a models directory (manifest, transform, the model's artifact), scored
by the same Rust code as ``salescast predict`` and the API, so the numbers are the same to the
bit. The model scored is the version's own (its ``salescast`` flavor names it), not the
manifest's champion. A row that cannot be scored raises :class:`salescast.SalescastError`
naming the row and the field, as the API refuses such a request.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from . import Predictor, SalescastError

__all__ = ["SalescastModel"]


class SalescastModel:
    """A logged model folder loaded for ``mlflow.pyfunc``."""

    def __init__(self, predictor: Predictor, model: Optional[str]):
        self.predictor = predictor
        #: The model this version registered (``random_forest`` or ``gradient_boosting``).
        self.model = model

    def predict(self, model_input: Any, params: Optional[dict] = None) -> Any:
        """``predicted_revenue`` for every row of ``model_input`` (a pandas DataFrame of
        contract rows, or anything ``pandas.DataFrame`` accepts), as a float array: what
        ``mlflow models serve`` answers as ``{"predictions": [...]}``, the shape of the API's
        ``/invocations``."""
        import pandas as pd

        if params:
            raise SalescastError(
                f"params are not taken by Salescast's models (got {sorted(params)})"
            )
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        scored = self.predictor.predict(frame, model=self.model)
        failed = scored["error"].notna()
        if failed.any():
            first = int(failed.to_numpy().nonzero()[0][0])
            raise SalescastError(
                f"{int(failed.sum())} of {len(scored)} row(s) could not be scored; "
                f"row {first + 1}: {scored['error'].iloc[first]}"
            )
        return scored["predicted_revenue"].to_numpy(dtype="float64")


def _flavor_kind(path: str) -> Optional[str]:
    """The model kind the folder's ``MLmodel`` names in Salescast's flavor, if any."""
    mlmodel = os.path.join(path, "MLmodel")
    if not os.path.isfile(mlmodel):
        return None
    import yaml  # MLflow's own dependency: present wherever MLflow loads a model

    with open(mlmodel, encoding="utf-8") as f:
        spec = yaml.safe_load(f) or {}
    return (spec.get("flavors") or {}).get("salescast", {}).get("kind")


def _load_pyfunc(path: str) -> SalescastModel:
    """What ``mlflow.pyfunc`` calls with the model's folder."""
    path = os.fspath(path)
    if os.path.isfile(path):  # a `data` entry naming a file inside the folder
        path = os.path.dirname(path)
    return SalescastModel(Predictor.load(path, present_only=True), _flavor_kind(path))
