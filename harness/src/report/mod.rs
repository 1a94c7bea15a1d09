//! Benchmark results and reports.
//!
//! # Layout
//! - [`summary`]: the versioned `summary.json` schema every report is rendered from.
//! - [`nas`]: NAS service tiers and measured-vs-advertised figures.

pub mod nas;
pub mod summary;
