//! reliquary-wire
