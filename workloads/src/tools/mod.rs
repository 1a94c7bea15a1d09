//! Helper subcommands.
