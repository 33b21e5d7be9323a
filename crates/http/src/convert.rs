//! Wire strings (already validated against the model) into domain types, and results into
//! JSON responses: shared by the control plane's handlers.

use axum::response::{IntoResponse as _, Response};
use reliquary_types::{AccountId, DomainName, RepositoryName};

use crate::ApiError;

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serializing the response: {e}")))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

fn invalid(member: &str, value: &str) -> ApiError {
    ApiError::validation(
        "FIELD_VALIDATION_FAILED",
        format!("Invalid value '{value}' at '{member}'"),
    )
}

pub(crate) fn domain_name(value: &str) -> Result<DomainName, ApiError> {
    DomainName::parse(value).map_err(|_| invalid("domain", value))
}

pub(crate) fn repository_name(member: &str, value: &str) -> Result<RepositoryName, ApiError> {
    RepositoryName::parse(value).map_err(|_| invalid(member, value))
}

pub(crate) fn account(member: &str, value: Option<&String>) -> Result<Option<AccountId>, ApiError> {
    value
        .map(|v| AccountId::parse(v).map_err(|_| invalid(member, v)))
        .transpose()
}
