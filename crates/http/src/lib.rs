//! reliquary-http
