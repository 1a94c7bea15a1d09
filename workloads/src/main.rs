//! `nfslab-io`: command-line entry of the IO engine.

fn main() {}
