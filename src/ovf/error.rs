//! Why an OVF descriptor could not be read.

/// Why an OVF descriptor could not be read. Each variant has a stable [`OvfError::reason`] for
/// conditions, events and metric labels; messages say what and where (element, line).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OvfError {
    #[error("OVF descriptor is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("OVF descriptor is not valid UTF-8: invalid byte at offset {offset} (line {line})")]
    InvalidUtf8 { offset: usize, line: u32 },
    #[error("OVF descriptor has an unsupported text encoding: {0}")]
    UnsupportedEncoding(String),
    #[error(
        "OVF descriptor has a document type declaration at line {line}; DTDs are refused so that \
         no entity is ever expanded or fetched"
    )]
    DtdRefused { line: u32 },
    #[error("OVF descriptor is not well-formed XML (line {line}, column {column}): {message}")]
    NotXml {
        line: u32,
        column: u32,
        message: String,
    },
    #[error("OVF descriptor has more than {limit} XML nodes")]
    TooManyNodes { limit: u32 },
    #[error(
        "OVF descriptor nests elements deeper than {limit} levels (<{element}> at line {line})"
    )]
    TooDeep {
        limit: usize,
        element: String,
        line: u32,
    },
    #[error("root element <{found}> at line {line} is not an OVF 1.x or 2.x Envelope")]
    WrongRoot { found: String, line: u32 },
    #[error(
        "OVF {version} descriptor (namespace {namespace}) is not supported; export it as OVF 1.0 \
         or later"
    )]
    UnsupportedVersion { version: String, namespace: String },
    #[error(
        "OVF envelope (line {line}) has no VirtualSystem, neither directly nor in a VirtualSystemCollection"
    )]
    NoVirtualSystem { line: u32 },
    #[error("disk {disk:?} (line {line}): unknown capacity allocation units {units:?}")]
    UnknownUnits {
        disk: String,
        units: String,
        line: u32,
    },
    #[error("disk {disk:?} (line {line}): capacity {value:?} is not a whole number")]
    InvalidCapacity {
        disk: String,
        value: String,
        line: u32,
    },
    #[error(
        "disk {disk:?} (line {line}): capacity refers to property {property:?}, which {problem}"
    )]
    CapacityPropertyUnresolved {
        disk: String,
        property: String,
        problem: String,
        line: u32,
    },
    #[error(
        "disk {disk:?} (line {line}): capacity {capacity} × {units:?} is larger than a Kubernetes \
         quantity holds (2^63 - 1 bytes)"
    )]
    CapacityOverflow {
        disk: String,
        capacity: String,
        units: String,
        line: u32,
    },
    #[error("<{element}> at line {line} refers to disk {reference:?}, which no DiskSection lists")]
    DiskNotFound {
        element: String,
        reference: String,
        line: u32,
    },
    #[error("{what} at line {line} is not a valid number: {value:?}")]
    InvalidNumber {
        what: String,
        value: String,
        line: u32,
    },
}

impl OvfError {
    /// Stable reason used in conditions, events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            OvfError::TooLarge { .. } => "OvfTooLarge",
            OvfError::InvalidUtf8 { .. } => "OvfInvalidUtf8",
            OvfError::UnsupportedEncoding(_) => "OvfUnsupportedEncoding",
            OvfError::DtdRefused { .. } => "OvfDtdRefused",
            OvfError::NotXml { .. } => "OvfNotXml",
            OvfError::TooManyNodes { .. } => "OvfTooManyNodes",
            OvfError::TooDeep { .. } => "OvfTooDeep",
            OvfError::WrongRoot { .. } => "OvfWrongRoot",
            OvfError::UnsupportedVersion { .. } => "OvfUnsupportedVersion",
            OvfError::NoVirtualSystem { .. } => "OvfNoVirtualSystem",
            OvfError::UnknownUnits { .. } => "OvfUnknownUnits",
            OvfError::InvalidCapacity { .. } => "OvfInvalidCapacity",
            OvfError::CapacityPropertyUnresolved { .. } => "OvfCapacityPropertyUnresolved",
            OvfError::CapacityOverflow { .. } => "OvfCapacityOverflow",
            OvfError::DiskNotFound { .. } => "OvfDiskNotFound",
            OvfError::InvalidNumber { .. } => "OvfInvalidNumber",
        }
    }
}
