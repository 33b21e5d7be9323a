//! reliquary-core
