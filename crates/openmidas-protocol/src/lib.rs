//! The Midas wire protocol, with no I/O: canonical signing and verification
//! ([`sign`]), the one table of every errcode ([`errcode`]), and the v1 wire
//! types: request parsing and validation ([`v1`]) and answers ([`wire`]).
//!
//! Everything here is a pure function of its inputs, so it is tested with
//! known-answer vectors and property tests alone.

pub mod errcode;
pub mod sign;
pub mod v1;
pub mod wire;

pub use errcode::ErrCode;
