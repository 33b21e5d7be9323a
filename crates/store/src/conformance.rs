//! Conformance suite, written by the store backends work.
