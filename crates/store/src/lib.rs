//! reliquary-store
