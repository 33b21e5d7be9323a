use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reliquary_core::Error;
use reliquary_wire::{ErrorShape, ValidationError};
use serde_json::{Map, Value, json};

/// A control-plane error rendered as restJson1: status, `x-amzn-ErrorType` and
/// `{"message": …, + modelled members}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    pub members: Map<String, Value>,
    /// Answer with `Connection: close` (the request body may be left unread).
    pub close_connection: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
            members: Map::new(),
            close_connection: false,
        }
    }

    fn shape(shape: ErrorShape, message: impl Into<String>) -> Self {
        let status =
            StatusCode::from_u16(shape.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(status, shape.name(), message)
    }

    fn with(mut self, member: &str, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value {
            self.members
                .insert(member.to_owned(), Value::String(value.into()));
        }
        self
    }

    pub fn validation(reason: &'static str, message: impl Into<String>) -> Self {
        Self::shape(ErrorShape::ValidationException, message).with("reason", Some(reason))
    }

    /// An operation of the model this server does not implement yet.
    pub fn not_implemented(operation: &str) -> Self {
        Self::validation(
            "UNKNOWN_OPERATION",
            format!("{operation} is not implemented by this Reliquary server yet"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::shape(ErrorShape::InternalServerException, message)
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> Self {
        Self::validation(err.reason.as_str(), err.message)
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Validation { message } => Self::validation("FIELD_VALIDATION_FAILED", message),
            Error::NotFound {
                resource_type,
                resource_id,
                message,
            } => Self::shape(ErrorShape::ResourceNotFoundException, message)
                .with("resourceId", resource_id)
                .with("resourceType", resource_type),
            Error::Conflict {
                resource_type,
                resource_id,
                message,
            } => Self::shape(ErrorShape::ConflictException, message)
                .with("resourceId", resource_id)
                .with("resourceType", resource_type),
            Error::QuotaExceeded {
                resource_type,
                resource_id,
                message,
            } => Self::shape(ErrorShape::ServiceQuotaExceededException, message)
                .with("resourceId", resource_id)
                .with("resourceType", resource_type),
            Error::AccessDenied { message } => {
                Self::shape(ErrorShape::AccessDeniedException, message)
            }
            Error::Unavailable { message } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
                message,
            ),
            Error::Internal { message } => Self::internal(message),
        }
    }
}

impl From<reliquary_sigv4::Error> for ApiError {
    fn from(err: reliquary_sigv4::Error) -> Self {
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::FORBIDDEN);
        Self::new(status, err.error_type(), err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.members;
        body.insert("message".to_owned(), json!(self.message));
        body.insert("__type".to_owned(), json!(self.error_type));
        let body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let mut response = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        response.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type),
        );
        if self.close_connection {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
        }
        response
    }
}
