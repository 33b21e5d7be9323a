//! reliquary-wire: the CodeArtifact restJson1 wire layer.
//!
//! `generated.rs` is produced by `cargo xtask codegen` from the vendored model
//! (shapes, enums, operations, routes, validation); `runtime.rs` is the
//! hand-written support it builds on.

mod generated;
mod runtime;

pub use generated::*;
pub use runtime::*;
