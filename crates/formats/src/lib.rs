//! Each package manager's protocol: parsing what its client sends and rendering what it reads.
//!
//! Parsing and rendering only (`design.md` §2): nothing here does I/O, knows HTTP routing or
//! touches a store. Callers hand in bytes and stored values and get documents back.

pub mod npm;
pub mod pypi;
