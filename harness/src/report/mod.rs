//! Benchmark results and reports.
//!
//! # Layout
//! - [`nas`]: NAS service tiers and measured-vs-advertised figures.

pub mod nas;
