//! The bindings' errors, raised in Python as `salescast.SalescastError` (a `ValueError`) whose
//! message names the field, the row or the setting at fault.

use pyo3::PyErr;
use thiserror::Error;

pyo3::create_exception!(
    salescast,
    SalescastError,
    pyo3::exceptions::PyValueError,
    "Bad input or settings: the message names the field, the row or the setting."
);

/// What can go wrong in a call from Python.
#[derive(Debug, Error)]
pub enum BindingError {
    /// A field (column or argument) of the input.
    #[error("{field} {reason}")]
    Field { field: String, reason: String },
    /// The input as a whole (not a table, unreadable Arrow data).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Daily(#[from] salescast_daily::DailyError),
    #[error(transparent)]
    Preprocess(#[from] salescast_preprocess::PreprocessError),
    #[error(transparent)]
    Features(#[from] salescast_features::FeaturesError),
    #[error(transparent)]
    Model(#[from] salescast_models::ModelError),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl BindingError {
    /// A column that could not be converted.
    pub fn column(name: &str, e: impl std::fmt::Display) -> Self {
        Self::Field {
            field: name.to_owned(),
            reason: format!("cannot be read: {e}"),
        }
    }
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> Self {
        SalescastError::new_err(e.to_string())
    }
}

impl From<arrow_schema::ArrowError> for BindingError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        Self::Input(e.to_string())
    }
}

/// The crate's result type.
pub(crate) type Result<T> = std::result::Result<T, BindingError>;
