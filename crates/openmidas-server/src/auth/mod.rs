//! Tokens and sessions: `/cgi-bin/token`, `/cgi-bin/stable_token`, `/sns/jscode2session`
//! (behaviour.md section 2). The same for every dialect.

pub mod jscode2session;
pub mod stable_token;
pub mod token;
