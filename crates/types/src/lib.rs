//! reliquary-types
