//! The wire protocols of every dialect, with no I/O.
//!
//! - [`json`]: the body reader all dialects share (each value's text kept, raw bytes
//!   borrowed for signing) and its primitives.
//! - [`route`]: the one route table (dialect, operation, path, where the env comes from).
//! - [`sign`]: every signature, one signer for the server, the client, the test kit, the
//!   bench and the CLI.
//! - [`errcode`]: how errcode tables are made and looked up; [`common`] is the platform's.
//! - one module per dialect, each with its typed requests, answers and errcode table:
//!   [`v1`] (Midas `/cgi-bin/midas/*`), [`v2`] (virtual payment 2.0 `/wxa/game/*`),
//!   [`xpay`] (mini-program virtual payment `/xpay/*`; not in the route table yet).
//! - [`client`]: what the player's WeChat client checks before a purchase.
//! - [`wire`]: answers shared by every family (errors, tokens, sessions).
//!
//! Everything here is a pure function of its inputs, so it is tested with known-answer
//! vectors and property tests alone.

pub mod client;
pub mod common;
pub mod diagnose;
pub mod errcode;
pub mod json;
pub mod limits;
pub mod push;
pub mod route;
pub mod sign;
pub mod v1;
pub mod v2;
pub mod wire;
pub mod xpay;

pub use errcode::{ErrorCode, Lang};
pub use route::{Dialect, Route, ROUTES};
