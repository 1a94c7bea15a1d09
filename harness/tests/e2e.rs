//! The scenario catalog as one test per scenario.

fn main() {}
