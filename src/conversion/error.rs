//! Why a conversion failed, with a stable reason for each case.

/// Why an object could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("kind {kind} of {api_version} is not converted here")]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} is not served at {api_version}")]
    UnsupportedVersion { kind: String, api_version: String },
    #[error("malformed object: {0}")]
    MalformedObject(String),
    #[error("malformed conversion data in annotation {key}: {message}")]
    MalformedConversionData { key: &'static str, message: String },
    #[error("malformed ConversionReview: {0}")]
    MalformedReview(String),
}

impl ConversionError {
    /// A stable reason string, for logs, metrics and review responses.
    pub fn reason(&self) -> &'static str {
        match self {
            ConversionError::UnknownKind { .. } => "UnknownKind",
            ConversionError::UnsupportedVersion { .. } => "UnsupportedVersion",
            ConversionError::MalformedObject(_) => "MalformedObject",
            ConversionError::MalformedConversionData { .. } => "MalformedConversionData",
            ConversionError::MalformedReview(_) => "MalformedReview",
        }
    }
}
