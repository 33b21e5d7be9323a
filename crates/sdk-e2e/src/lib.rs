//! Nothing here: `tests/sdk.rs` drives a spawned `reliquary serve` through the official Rust SDK.
