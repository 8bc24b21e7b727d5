//! Checks of the user documentation, run by `cargo test -p openmidas-docs`.
//!
//! The crate has no code of its own: its integration tests (`tests/translations.rs`) read
//! `README.md` and `docs/*.md` from the repository and check that every user document has a
//! Simplified Chinese counterpart (`*.zh-CN.md`) that links back to it, has the same
//! headings and the same code blocks (commands, flags and outputs cannot drift), and that
//! every relative link in the documents points to a file that exists.
