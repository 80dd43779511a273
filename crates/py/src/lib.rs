//! `salescast._native`: the Rust core as a Python extension module (abi3, Python 3.9+), wrapped
//! by the pure-Python package `salescast` (python/salescast), which accepts pandas, polars and
//! pyarrow frames and hands them over as Arrow.
//!
//! Every function reads its Arrow input while holding the GIL (a stream may call back into
//! Python), then releases the GIL for the work itself, so other Python threads (a Spark worker's
//! reader, a web server) keep running.

mod arrow_in;
mod drift;
mod error;
mod forecast;
mod prepare;
mod score;

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::RecordBatch;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;
use pyo3_arrow::input::{AnyArray, AnyRecordBatch};

use crate::error::{BindingError, SalescastError};

/// A table handed over from Python, as one batch.
fn read_table(frame: AnyRecordBatch) -> PyResult<RecordBatch> {
    let reader = frame.into_reader()?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(BindingError::from)?;
    Ok(arrow_in::one_batch(batches, schema)?)
}

/// An array handed over from Python, as one array.
fn read_array(a: AnyArray, field: &str) -> PyResult<arrow_array::ArrayRef> {
    let chunked = a.into_chunked_array()?;
    Ok(arrow_in::one_array(chunked.chunks(), field)?)
}

/// A batch returned to Python as a `pyarrow.Table`.
fn to_pyarrow(py: Python<'_>, batch: RecordBatch) -> PyResult<Bound<'_, PyAny>> {
    let schema = batch.schema();
    PyTable::try_new(vec![batch], schema)?.into_pyarrow(py)
}

/// Fits one series (the rows of one group, in any order) as `salescast forecast-many` does
/// and forecasts `horizon` days after its last day. Returns the forecast table (`date`,
/// `model`, `mean`, `lower_<level>`, `upper_<level>`) and a dict of what was chosen.
#[pyfunction]
#[pyo3(signature = (dates, values, horizon, level=95.0, folds=None, fold_days=None, holidays=false, fill_missing_zero=false))]
#[allow(clippy::too_many_arguments)]
fn fit_series<'py>(
    py: Python<'py>,
    dates: AnyArray,
    values: AnyArray,
    horizon: usize,
    level: f64,
    folds: Option<usize>,
    fold_days: Option<usize>,
    holidays: bool,
    fill_missing_zero: bool,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let dates = read_array(dates, "date")?;
    let values = read_array(values, "value")?;
    let settings = forecast::Settings {
        folds,
        fold_days,
        holidays,
        fill_missing_zero,
    };
    let fitted = py
        .detach(|| forecast::fit(&dates, &values, horizon, level, settings))
        .map_err(PyErr::from)?;
    let info = PyDict::new(py);
    info.set_item("model", fitted.fit.model_name())?;
    info.set_item("cv_mase", fitted.fit.cv_mase)?;
    info.set_item("fallback_reason", fitted.fit.fallback.clone())?;
    info.set_item("days", fitted.fit.n_days)?;
    info.set_item("first_date", fitted.fit.start)?;
    info.set_item("filled_days", fitted.filled)?;
    Ok((to_pyarrow(py, fitted.table)?, info))
}

/// Cleans raw contract rows with the pipeline's rules: returns the cleaned rows, the rejected
/// rows (`row`, `code`, `reason`), the report (JSON) and the fitted statistics (JSON).
#[pyfunction]
#[pyo3(signature = (frame, test_days=90, outlier_k=3.0))]
fn clean<'py>(
    py: Python<'py>,
    frame: AnyRecordBatch,
    test_days: u32,
    outlier_k: f64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>, String, String)> {
    let batch = read_table(frame)?;
    let out = py
        .detach(|| prepare::clean_frame(&batch, test_days, outlier_k))
        .map_err(PyErr::from)?;
    Ok((
        to_pyarrow(py, out.rows)?,
        to_pyarrow(py, out.rejected)?,
        out.report,
        out.stats,
    ))
}

/// The model features of contract rows, with the transform saved in `models_dir` or one fitted
/// with `cleaning` (the statistics JSON `clean` returned).
#[pyfunction]
#[pyo3(signature = (frame, models_dir=None, cleaning=None, scale=false))]
fn features<'py>(
    py: Python<'py>,
    frame: AnyRecordBatch,
    models_dir: Option<PathBuf>,
    cleaning: Option<String>,
    scale: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let batch = read_table(frame)?;
    let out = py
        .detach(|| prepare::features(&batch, models_dir.as_deref(), cleaning.as_deref(), scale))
        .map_err(PyErr::from)?;
    to_pyarrow(py, out)
}

/// Drift of every column two frames share (the monitor's tests and thresholds), as JSON.
#[pyfunction(name = "drift")]
#[pyo3(signature = (reference, current, drift_share=0.5, categorical=Vec::new()))]
fn drift_report(
    py: Python<'_>,
    reference: AnyRecordBatch,
    current: AnyRecordBatch,
    drift_share: f64,
    categorical: Vec<String>,
) -> PyResult<String> {
    let r = read_table(reference)?;
    let c = read_table(current)?;
    let report = py
        .detach(|| drift::drift(&r, &c, drift_share, &categorical))
        .map_err(PyErr::from)?;
    serde_json::to_string(&report).map_err(|e| PyErr::from(BindingError::from(e)))
}

/// A loaded models directory (the manifest, the transform and both tree models).
#[pyclass(name = "Predictor", module = "salescast._native", frozen)]
struct PyPredictor {
    inner: Arc<salescast_models::serving::Predictor>,
}

#[pymethods]
impl PyPredictor {
    /// Loads and checks a models directory written by `salescast train`; with
    /// `present_only`, a registered version's folder (the models its manifest names that are
    /// there).
    #[staticmethod]
    #[pyo3(signature = (models_dir, present_only = false))]
    fn load(py: Python<'_>, models_dir: PathBuf, present_only: bool) -> PyResult<Self> {
        use salescast_models::serving::Predictor;
        let p = py
            .detach(|| {
                if present_only {
                    Predictor::load_present(&models_dir)
                } else {
                    Predictor::load(&models_dir)
                }
            })
            .map_err(|e| {
                PyErr::from(BindingError::Field {
                    field: "models_dir".into(),
                    reason: format!("{}: {e}", models_dir.display()),
                })
            })?;
        Ok(Self { inner: Arc::new(p) })
    }

    /// The champion's name.
    #[getter]
    fn champion(&self) -> &'static str {
        self.inner.champion.name()
    }

    /// The loaded models' names.
    #[getter]
    fn models(&self) -> Vec<&'static str> {
        self.inner.models.keys().map(|k| k.name()).collect()
    }

    /// Scores contract rows with `model` (default: the champion): a table of
    /// `predicted_revenue` and `error`, one row per input row.
    #[pyo3(signature = (frame, model=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        frame: AnyRecordBatch,
        model: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kind = score::kind(model.as_deref())?;
        let batch = read_table(frame)?;
        let p = Arc::clone(&self.inner);
        let out = py
            .detach(|| score::score(&p, &batch, kind))
            .map_err(PyErr::from)?;
        to_pyarrow(py, out)
    }
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SalescastError", m.py().get_type::<SalescastError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(fit_series, m)?)?;
    m.add_function(wrap_pyfunction!(clean, m)?)?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(drift_report, m)?)?;
    m.add_class::<PyPredictor>()?;
    Ok(())
}
