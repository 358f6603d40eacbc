//! The plugin guide (`docs/plugin-guide.md` in the audex repository), included here so that
//! its Rust samples compile and run as this crate's doctests.
#![doc = include_str!("../../docs/plugin-guide.md")]
