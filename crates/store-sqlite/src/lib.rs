//! reliquary-store-sqlite
