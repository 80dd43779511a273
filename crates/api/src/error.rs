//! The one error type of the service and its JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every code an error answer carries, in one place: the `code` of `{"error": {...}}`, stable
/// for scripts to match on, and listed in the OpenAPI document (schema `ErrorCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    AdminDisabled,
    BadCsv,
    BadDate,
    BadEnvelope,
    BadFlag,
    BadFormat,
    BadMultipart,
    BadQuery,
    BadRange,
    BadRequest,
    BadRequestBody,
    CannotExplain,
    EmptyBatch,
    EmptyBody,
    EmptyCsv,
    EndBeforeStart,
    ExplainNotOffered,
    FieldTooLong,
    HorizonTooLong,
    Internal,
    InvalidRow,
    MalformedCsv,
    MalformedJson,
    MethodNotAllowed,
    MissingColumn,
    MissingField,
    MissingFile,
    ModelError,
    ModelsNotLoaded,
    MultipartExpected,
    NegativeValue,
    NoDailyModel,
    NoHistory,
    NotANumber,
    NotFinite,
    NotFound,
    NotUtf8,
    OutOfRange,
    PayloadTooLarge,
    ReloadFailed,
    StartInTrainingPeriod,
    Timeout,
    TooManyColumns,
    Unauthorized,
    UnknownCategory,
    UnknownColumn,
    UnknownField,
    UnknownModel,
    UnknownStore,
    UnsupportedMediaType,
    WrongType,
}

impl ErrorCode {
    /// Every code, for the tests that keep the list, the JSON and the OpenAPI document in step.
    pub const ALL: [ErrorCode; 51] = [
        ErrorCode::AdminDisabled,
        ErrorCode::BadCsv,
        ErrorCode::BadDate,
        ErrorCode::BadEnvelope,
        ErrorCode::BadFlag,
        ErrorCode::BadFormat,
        ErrorCode::BadMultipart,
        ErrorCode::BadQuery,
        ErrorCode::BadRange,
        ErrorCode::BadRequest,
        ErrorCode::BadRequestBody,
        ErrorCode::CannotExplain,
        ErrorCode::EmptyBatch,
        ErrorCode::EmptyBody,
        ErrorCode::EmptyCsv,
        ErrorCode::EndBeforeStart,
        ErrorCode::ExplainNotOffered,
        ErrorCode::FieldTooLong,
        ErrorCode::HorizonTooLong,
        ErrorCode::Internal,
        ErrorCode::InvalidRow,
        ErrorCode::MalformedCsv,
        ErrorCode::MalformedJson,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MissingColumn,
        ErrorCode::MissingField,
        ErrorCode::MissingFile,
        ErrorCode::ModelError,
        ErrorCode::ModelsNotLoaded,
        ErrorCode::MultipartExpected,
        ErrorCode::NegativeValue,
        ErrorCode::NoDailyModel,
        ErrorCode::NoHistory,
        ErrorCode::NotANumber,
        ErrorCode::NotFinite,
        ErrorCode::NotFound,
        ErrorCode::NotUtf8,
        ErrorCode::OutOfRange,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ReloadFailed,
        ErrorCode::StartInTrainingPeriod,
        ErrorCode::Timeout,
        ErrorCode::TooManyColumns,
        ErrorCode::Unauthorized,
        ErrorCode::UnknownCategory,
        ErrorCode::UnknownColumn,
        ErrorCode::UnknownField,
        ErrorCode::UnknownModel,
        ErrorCode::UnknownStore,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::WrongType,
    ];

    /// The code as it appears in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AdminDisabled => "admin_disabled",
            ErrorCode::BadCsv => "bad_csv",
            ErrorCode::BadDate => "bad_date",
            ErrorCode::BadEnvelope => "bad_envelope",
            ErrorCode::BadFlag => "bad_flag",
            ErrorCode::BadFormat => "bad_format",
            ErrorCode::BadMultipart => "bad_multipart",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::BadRange => "bad_range",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::BadRequestBody => "bad_request_body",
            ErrorCode::CannotExplain => "cannot_explain",
            ErrorCode::EmptyBatch => "empty_batch",
            ErrorCode::EmptyBody => "empty_body",
            ErrorCode::EmptyCsv => "empty_csv",
            ErrorCode::EndBeforeStart => "end_before_start",
            ErrorCode::ExplainNotOffered => "explain_not_offered",
            ErrorCode::FieldTooLong => "field_too_long",
            ErrorCode::HorizonTooLong => "horizon_too_long",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidRow => "invalid_row",
            ErrorCode::MalformedCsv => "malformed_csv",
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MissingColumn => "missing_column",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::MissingFile => "missing_file",
            ErrorCode::ModelError => "model_error",
            ErrorCode::ModelsNotLoaded => "models_not_loaded",
            ErrorCode::MultipartExpected => "multipart_expected",
            ErrorCode::NegativeValue => "negative_value",
            ErrorCode::NoDailyModel => "no_daily_model",
            ErrorCode::NoHistory => "no_history",
            ErrorCode::NotANumber => "not_a_number",
            ErrorCode::NotFinite => "not_finite",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotUtf8 => "not_utf8",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::ReloadFailed => "reload_failed",
            ErrorCode::StartInTrainingPeriod => "start_in_training_period",
            ErrorCode::Timeout => "timeout",
            ErrorCode::TooManyColumns => "too_many_columns",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnknownCategory => "unknown_category",
            ErrorCode::UnknownColumn => "unknown_column",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::UnknownModel => "unknown_model",
            ErrorCode::UnknownStore => "unknown_store",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::WrongType => "wrong_type",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"error": {"code", "message", "field"}}`, the body of every 4xx and 5xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `missing_field`, `bad_date`, `payload_too_large`.
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, when there is one (`unit_price`, `[2].date`, `model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A request the service cannot answer, with the status it maps to.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// A failure of the service itself. The detail goes to the service log with an id; the
    /// client gets the id and a fixed message, never the detail (which may name paths or
    /// dependencies).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(incident = id, %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("internal error (incident {id} in the service log)"),
        )
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            message,
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_and_spelled_as_in_json_and_openapi() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str(), "{c:?}");
            assert!(seen.insert(c.as_str()), "{c:?} twice");
        }
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema()).unwrap();
        let listed: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all, "ALL and the enum's variants differ");
    }
}
