//! reliquary-store-postgres
