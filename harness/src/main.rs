//! `nfslab`: command-line entry; parses arguments and calls the library.

fn main() {}
