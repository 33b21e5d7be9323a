//! Verification failures, mapped onto the error types AWS JSON services return.

/// Why a request failed SigV4 verification.
///
/// [`Display`](std::fmt::Display) yields the message to put in the JSON error body;
/// [`Error::error_type`] the `x-amzn-ErrorType` / `__type` value and [`Error::status`]
/// the HTTP status. No variant ever carries the signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header (or the request's date headers) is not a well-formed
    /// SigV4 header authorization; the message says what is missing or malformed.
    #[error("{0}")]
    IncompleteSignature(String),

    /// The access key id in the credential scope is not known.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,

    /// The signature does not match the one computed for the request (this also covers a
    /// header listed in `SignedHeaders` that is absent from the request).
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureDoesNotMatch,

    /// The credential scope names another service.
    #[error("Credential should be scoped to correct service: '{expected}'.")]
    WrongService {
        /// The service this verifier accepts.
        expected: String,
    },

    /// The date in the credential scope is not the day of the request time.
    #[error(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
         from HTTP: '{scope_date}' != '{request_date}', from '{request_time}'."
    )]
    ScopeDateMismatch {
        /// `yyyymmdd` from the credential scope.
        scope_date: String,
        /// `yyyymmdd` of the request time.
        request_date: String,
        /// The request time, `yyyymmddThhmmssZ`.
        request_time: String,
    },

    /// The request time is more than [`MAX_CLOCK_SKEW`](crate::MAX_CLOCK_SKEW) before now.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        /// The request time, `yyyymmddThhmmssZ`.
        request_time: String,
        /// `now - 15 min`, `yyyymmddThhmmssZ`.
        earliest: String,
        /// The server time, `yyyymmddThhmmssZ`.
        now: String,
    },

    /// The request time is more than [`MAX_CLOCK_SKEW`](crate::MAX_CLOCK_SKEW) after now.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + 15 min.)"
    )]
    NotYetCurrent {
        /// The request time, `yyyymmddThhmmssZ`.
        request_time: String,
        /// `now + 15 min`, `yyyymmddThhmmssZ`.
        latest: String,
        /// The server time, `yyyymmddThhmmssZ`.
        now: String,
    },
}

impl Error {
    /// The AWS error type (`x-amzn-ErrorType` header / `__type` body member).
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Error::IncompleteSignature(_) => "IncompleteSignatureException",
            Error::UnrecognizedClient => "UnrecognizedClientException",
            Error::SignatureDoesNotMatch
            | Error::WrongService { .. }
            | Error::ScopeDateMismatch { .. }
            | Error::Expired { .. }
            | Error::NotYetCurrent { .. } => "InvalidSignatureException",
        }
    }

    /// The HTTP status: 400 for `IncompleteSignatureException`, 403 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Error::IncompleteSignature(_) => 400,
            _ => 403,
        }
    }
}
