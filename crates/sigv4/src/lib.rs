//! reliquary-sigv4
