//! Why a signature failed: the request log's `diagnosis` (behaviour.md section 13.3).
//!
//! It runs only after a verification failed, so it can afford to recompute the signature
//! under the mistakes clients commonly make (the other environment's key, a twin path, the
//! AppSecret, a re-serialized body, ...) and name the first that reproduces what was
//! received. Every scheme is computed by [`crate::sign`]; this module only varies its
//! inputs. Secrets never leave it: each is written as its placeholder, and an access token
//! as its first 6 characters.

use std::io;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::Value;

use crate::route::{Operation, Route};
use crate::sign::{self, Digest, HexCase};

/// The secrets a diagnosis may try. Each appears in its output only as a placeholder.
pub struct Secrets<'a> {
    /// The official AppKey.
    pub app_key: &'a str,
    pub sandbox_app_key: &'a str,
    /// The AppSecret (a common mix-up with the AppKey).
    pub app_secret: &'a str,
    pub openid: &'a str,
    /// The player's newest session_key, if the player has a session.
    pub session_key: Option<&'a str>,
}

/// A failed signature explained: what the server signed, with which key, and what the client
/// most likely did differently (behaviour.md section 13.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diagnosis {
    /// Which signature failed: "sig", "mp_sig", "pay_sig" or "signature".
    pub signature: &'static str,
    /// Always "hmac_sha256".
    pub algorithm: &'static str,
    /// The HMAC key the server used, as its placeholder.
    pub key: String,
    /// The exact message the server signed, every secret replaced by its placeholder and any
    /// access token cut to its first 6 characters followed by "...".
    pub signed: String,
    /// The signature the server expected (lowercase hex; empty without a session_key).
    pub expected: String,
    /// The signature received, as sent (a secret in it would be replaced too).
    pub received: String,
    /// What the client most likely did differently, when a variant reproduces the received
    /// signature exactly.
    pub likely_cause: Option<String>,
    /// What to check; without a likely cause, also what could not be tried.
    pub hint: String,
}

const OFFICIAL: &str = "<AppKey official>";
const SANDBOX: &str = "<AppKey sandbox>";

impl<'a> Secrets<'a> {
    /// The AppKey of an environment and its placeholder.
    fn app_key(&self, sandbox: bool) -> (&'a str, &'static str) {
        if sandbox {
            (self.sandbox_app_key, SANDBOX)
        } else {
            (self.app_key, OFFICIAL)
        }
    }

    fn session_placeholder(&self) -> String {
        format!("<session_key of openid {}>", self.openid)
    }
}

fn env(sandbox: bool) -> &'static str {
    ["official", "sandbox"][usize::from(sandbox)]
}

const NO_SESSION: &str =
    " The player has no session: log in (jscode2session) and sign with the session_key it returns.";

/// An access token as the log may show it: its first 6 characters and "...". A token of 6
/// characters or fewer would be shown whole, so none of it is.
fn cut_token(token: &str) -> String {
    match token.char_indices().nth(6) {
        Some((end, _)) => format!("{}...", &token[..end]),
        None => "...".to_string(),
    }
}

/// Replaces every secret (and the access token) in a text, in one left-to-right pass so a
/// placeholder already written is never rewritten.
struct Redactor {
    /// (secret, replacement), longest first: a secret containing another goes whole.
    patterns: Vec<(String, String)>,
}

impl Redactor {
    fn new(secrets: &Secrets, access_token: &str) -> Self {
        let mut patterns = vec![
            (secrets.app_key.to_string(), OFFICIAL.to_string()),
            (secrets.sandbox_app_key.to_string(), SANDBOX.to_string()),
            (secrets.app_secret.to_string(), "<AppSecret>".to_string()),
            (access_token.to_string(), cut_token(access_token)),
        ];
        if let Some(key) = secrets.session_key {
            patterns.push((key.to_string(), secrets.session_placeholder()));
        }
        patterns.retain(|(secret, _)| !secret.is_empty());
        patterns.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
        Redactor { patterns }
    }

    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let hit = self
                .patterns
                .iter()
                .find(|(secret, _)| rest.starts_with(secret.as_str()));
            match hit {
                Some((secret, replacement)) => {
                    out.push_str(replacement);
                    rest = &rest[secret.len()..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }
}

/// Variants that grow with the request (one per body key, one per query parameter) stop
/// here: a real request has about ten, and a hostile one must not cost thousands of HMACs
/// over a 64 KiB body.
const MAX_PER_PART: usize = 16;

/// A digest a mistaken client may have sent (None: this variant cannot be tried), and the
/// mistake, as one sentence.
type Variant = (Option<Digest>, String);

/// What the server computed, before the variants are compared.
struct Draft<'r> {
    signature: &'static str,
    key: String,
    /// Already redacted.
    signed: String,
    expected: Option<Digest>,
    received: &'r str,
    case: HexCase,
    redactor: Redactor,
}

impl Draft<'_> {
    /// The first of `variants` (in priority order) that reproduces the received signature
    /// names the likely cause; `not_tried` ends the hint when none does. The right digest in
    /// uppercase hex, where the app wants lowercase, comes before every variant.
    fn finish(self, variants: Vec<Variant>, hint: String, not_tried: &str) -> Diagnosis {
        let upper = self.case == HexCase::Lower && self.received.bytes().any(|b| b.is_ascii_uppercase());
        let matches = |d: &Option<Digest>| d.as_ref().is_some_and(|d| sign::hex_matches(d, self.received));
        let cause = if upper && matches(&self.expected) {
            Some(format!(
                "sent {} in uppercase hex, but this app accepts lowercase only: send lowercase hex, or set the app \
                 option signature_hex = \"any\"",
                self.signature
            ))
        } else {
            let also = if upper {
                " (and send lowercase hex: this app refuses uppercase)"
            } else {
                ""
            };
            variants
                .into_iter()
                .find(|(d, _)| matches(d))
                .map(|(_, cause)| cause + also)
        };
        let hint = if cause.is_none() { hint + not_tried } else { hint };
        Diagnosis {
            signature: self.signature,
            algorithm: "hmac_sha256",
            key: self.key,
            signed: self.signed,
            expected: self.expected.map(|d| sign::to_hex(&d)).unwrap_or_default(),
            received: self.redactor.apply(self.received),
            likely_cause: cause.map(|c| self.redactor.apply(&c)),
            hint: self.redactor.apply(&hint),
        }
    }
}

/// Midas v1 (behaviour.md section 3.3).
pub mod v1 {
    use super::*;
    use crate::sign::v1 as s;
    use crate::v1::Endpoint;

    fn endpoint(uri: &str) -> Option<Endpoint> {
        match Route::find(uri)?.operation {
            Operation::V1(endpoint) => Some(endpoint),
            Operation::V2(_) | Operation::Xpay(_) => None,
        }
    }

    /// The same operation's path in the other environment.
    fn twin(endpoint: Option<Endpoint>) -> Option<&'static str> {
        endpoint.map(|e| {
            Endpoint::uri(Endpoint {
                sandbox: !e.sandbox,
                ..e
            })
        })
    }

    /// The sorted `k=v` part of a v1 string: `sig_string` less what it appends to no
    /// parameters at all.
    fn sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        let full = s::sig_string(pairs, "", "");
        let suffix = s::sig_string(std::iter::empty(), "", "");
        full.strip_suffix(suffix.as_str()).unwrap_or(&full).to_string()
    }

    /// mp_sig's string over other parameters than its own: `mp_sig_string` always adds
    /// access_token and sig, so its suffix is cut from one over those two alone.
    fn mp_string<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        token: &str,
        sig: &str,
        uri: &str,
        key: &str,
    ) -> String {
        let two = s::mp_sig_string(std::iter::empty(), token, sig, uri, key);
        let head = sorted([("access_token", token), ("sig", sig)]);
        sorted(pairs) + two.strip_prefix(head.as_str()).unwrap_or(&two)
    }

    /// `sig` failed. `params` are the signed body parameters exactly as the server used them
    /// (`v1::Request::signed_pairs`), `uri` the request path, `sandbox` whether it is a
    /// sandbox path, `access_token` the query's token (may be empty).
    pub fn sig(
        params: &[(&str, &str)],
        uri: &str,
        sandbox: bool,
        access_token: &str,
        secrets: &Secrets,
        received: &str,
    ) -> Diagnosis {
        let pairs = || params.iter().copied();
        let ((key, key_name), (other, _)) = (secrets.app_key(sandbox), secrets.app_key(!sandbox));
        let (here, there, article) = (env(sandbox), env(!sandbox), if sandbox { "a" } else { "an" });
        let twin = twin(endpoint(uri));
        let digest = |path: &str, key: &str| Some(s::sig_digest(pairs(), path, key));
        let hmac = |text: String| Some(sign::hmac_sha256(key.as_bytes(), text.as_bytes()));
        let mut v = Vec::new();

        let or_call = twin.map(|p| format!(", or call {p}")).unwrap_or_default();
        let cause = format!(
            "signed with the {there} AppKey, but {uri} is {article} {here} path: sign with the {here} AppKey{or_call}"
        );
        v.push((digest(uri, other), cause));
        if let Some(twin) = twin {
            let cause =
                format!("signed org_loc={twin}, but the request went to {uri}: org_loc must be the path called");
            v.push((digest(twin, key), cause));
            let cause = format!(
                "signed for the {there} environment ({there} AppKey, org_loc={twin}) but called {uri}: call {twin}, or \
                 sign with the {here} AppKey and this path"
            );
            v.push((digest(twin, other), cause));
        }
        for path in Endpoint::all()
            .map(Endpoint::uri)
            .filter(|&p| p != uri && Some(p) != twin)
        {
            for (k, name) in [(key, here), (other, there)] {
                let cause = format!(
                    "signed org_loc={path} (another operation's path) with the {name} AppKey, but called {uri}: sign \
                     each request with its own path"
                );
                v.push((digest(path, k), cause));
            }
        }
        let cause = format!(
            "signed with the AppSecret instead of the {here} AppKey: sig is keyed with the AppKey (the AppSecret only \
             gets access tokens)"
        );
        v.push((digest(uri, secrets.app_secret), cause));
        if !access_token.is_empty() {
            let with_token = pairs().chain([("access_token", access_token)]);
            let cause = "signed access_token among the parameters: sig covers the body keys only (mp_sig signs \
                         access_token), so leave it out";
            v.push((Some(s::sig_digest(with_token, uri, key)), cause.into()));
        }
        for (i, (name, _)) in params.iter().enumerate().take(MAX_PER_PART) {
            let without = params.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, p)| *p);
            let cause = format!(
                "sent {name} but left it out of sig: sig covers every body key sent except sig and mp_sig, so sign \
                 {name} or do not send it"
            );
            v.push((Some(s::sig_digest(without, uri, key)), cause));
        }
        let cause = "signed only the sorted parameters: append &org_loc=<path>&method=POST&secret=<AppKey> before \
                     signing";
        v.push((hmac(sorted(pairs())), cause.into()));
        let get = s::sig_string(std::iter::empty(), uri, key).replacen("&method=POST&", "&method=GET&", 1);
        v.push((
            hmac(sorted(pairs()) + &get),
            "signed method=GET: the method in sig's string is always POST".into(),
        ));
        if let Some(session) = secrets.session_key {
            let cause = format!(
                "signed sig with the session_key instead of the {here} AppKey: the session_key signs mp_sig only"
            );
            v.push((digest(uri, session), cause));
        }

        let redactor = Redactor::new(secrets, access_token);
        let hint = format!(
            "sig is keyed with the {here} AppKey and signs `signed`: every body key sent except sig and mp_sig, \
             sorted by key bytes, values as their JSON text (strings unescaped, numbers as written), then \
             org_loc={uri}, method=POST and secret=<the AppKey>; compare the client's string with it."
        );
        let draft = Draft {
            signature: "sig",
            key: key_name.to_string(),
            signed: redactor.apply(&s::sig_string(pairs(), uri, "")) + key_name,
            expected: digest(uri, key),
            received,
            case: HexCase::Any,
            redactor,
        };
        draft.finish(
            v,
            hint,
            " Not tried: a body changed after it was signed, or keys signed but not sent.",
        )
    }

    /// `mp_sig` failed (sig passed). `sig` is the request's sig.
    pub fn mp_sig(
        params: &[(&str, &str)],
        uri: &str,
        access_token: &str,
        sig: &str,
        secrets: &Secrets,
        received: &str,
    ) -> Diagnosis {
        let pairs = || params.iter().copied();
        let endpoint = endpoint(uri);
        let session = secrets.session_key;
        let digest = |path: &str, key: &str| Some(s::mp_sig_digest(pairs(), access_token, sig, path, key));
        let mut v = Vec::new();

        if let Some(session) = session {
            let text = s::mp_sig_string(pairs(), access_token, sig, uri, session);
            let decoded = STANDARD.decode(session).ok();
            let cause = "keyed mp_sig with the base64-decoded session_key: the key is its text, as jscode2session \
                         returned it";
            v.push((
                decoded.map(|raw| sign::hmac_sha256(&raw, text.as_bytes())),
                cause.into(),
            ));
        }
        let sandbox = endpoint.map_or(uri.contains("/sandbox/"), |e| e.sandbox);
        for sb in [sandbox, !sandbox] {
            let cause = format!(
                "signed mp_sig with the {} AppKey instead of the player's session_key (the AppKey signs sig)",
                env(sb)
            );
            v.push((digest(uri, secrets.app_key(sb).0), cause));
        }
        if let Some(session) = session {
            let (token_pair, sig_pair) = (("access_token", access_token), ("sig", sig));
            let left_out = [
                (vec![sig_pair], "access_token"),
                (vec![token_pair], "sig"),
                (vec![], "access_token and sig"),
            ];
            for (extra, left_out) in left_out {
                let text = mp_string(pairs().chain(extra), access_token, sig, uri, session);
                let cause = format!(
                    "left {left_out} out of mp_sig: it covers the body keys, access_token (the query's) and sig (as \
                     sent)"
                );
                v.push((Some(sign::hmac_sha256(session.as_bytes(), text.as_bytes())), cause));
            }
            if let Some(twin) = twin(endpoint) {
                let cause = format!(
                    "signed org_loc={twin} in mp_sig, but the request went to {uri}: org_loc must be the path called"
                );
                v.push((digest(twin, session), cause));
            }
        }

        let redactor = Redactor::new(secrets, access_token);
        let mut hint = String::from(
            "mp_sig is keyed with the player's newest session_key as text (not base64-decoded) and covers the \
             body keys plus access_token and sig, then org_loc, method=POST and session_key=<session_key>.",
        );
        if session.is_none() {
            hint.push_str(NO_SESSION);
        }
        let key = secrets.session_placeholder();
        let draft = Draft {
            signature: "mp_sig",
            signed: redactor.apply(&s::mp_sig_string(pairs(), access_token, sig, uri, "")) + &key,
            key,
            expected: session.and_then(|k| digest(uri, k)),
            received,
            case: HexCase::Any,
            redactor,
        };
        let not_tried = " Not tried: an older session_key the player had before logging in again (only the newest \
                         is valid), another access token than the query's, or a body changed after signing.";
        draft.finish(v, hint, if session.is_some() { not_tried } else { "" })
    }
}

/// Python's `json.dumps` defaults: `", "` and `": "`, non-ASCII escaped as `\uXXXX`.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sort_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// `style`: None compact, Some(None) Python, Some(Some(indent)) pretty-printed.
fn serialize(value: &Value, style: Option<Option<&[u8]>>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let result = match style {
        None => value.serialize(&mut serde_json::Serializer::new(&mut out)),
        Some(None) => value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonFormatter)),
        Some(Some(indent)) => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            PrettyFormatter::with_indent(indent),
        )),
    };
    result.ok().map(|()| out)
}

/// Other bytes a client may have signed for the same JSON, each as a variant: the trailing
/// newline toggled, then the usual serializations of the parsed body (keys in the order
/// received, then sorted; each also with a trailing newline). serde_json keeps the received
/// order: the workspace enables its `preserve_order` (the tests rely on it).
fn reserialized(body: &[u8], digest: impl Fn(&[u8]) -> Digest) -> Vec<Variant> {
    let exact = ": sign the exact bytes you send";
    let mut out = vec![match body.strip_suffix(b"\n") {
        Some(cut) => (
            Some(digest(cut.strip_suffix(b"\r").unwrap_or(cut))),
            format!("signed the body without its trailing newline but sent one{exact}"),
        ),
        None => (
            Some(digest(&[body, b"\n"].concat())),
            format!("signed the body with a trailing newline but sent it without one{exact}"),
        ),
    }];
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return out;
    };
    const STYLES: [(Option<Option<&[u8]>>, &str); 4] = [
        (None, "compactly (no spaces)"),
        (Some(None), "with spaces after ':' and ',' (Python json.dumps default)"),
        (Some(Some(b"  ")), "pretty-printed with 2-space indentation"),
        (Some(Some(b"    ")), "pretty-printed with 4-space indentation"),
    ];
    for (value, sorted) in [(value.clone(), false), (sort_keys(&value), true)] {
        for (style, name) in STYLES {
            let Some(bytes) = serialize(&value, style) else {
                continue;
            };
            for newline in [false, true] {
                let bytes = [&bytes[..], if newline { b"\n" } else { b"" }].concat();
                let mut what = vec![name];
                what.extend(sorted.then_some("with keys sorted"));
                what.extend(newline.then_some("with a trailing newline"));
                if bytes != body {
                    let cause = format!(
                        "signed the body re-serialized {}, but sent other bytes{exact}",
                        what.join(", ")
                    );
                    out.push((Some(digest(&bytes)), cause));
                }
            }
        }
    }
    out
}

/// Virtual payment 2.0 (behaviour.md section 9).
pub mod v2 {
    use super::*;
    use crate::sign::v2 as s;
    use crate::v2::Op;

    /// The paths of the family `uri` belongs to (2.0's or xpay's): a client that signed
    /// another operation's path signed one of these.
    fn sibling_paths(uri: &str) -> impl Iterator<Item = &'static str> {
        let xpay = uri.starts_with("/xpay/");
        let v2_paths = Op::ALL.map(Op::uri).into_iter().filter(move |_| !xpay);
        let xpay_paths = crate::xpay::Op::ALL
            .map(crate::xpay::Op::uri)
            .into_iter()
            .filter(move |_| xpay);
        v2_paths.chain(xpay_paths)
    }

    fn lowercase(case: HexCase) -> &'static str {
        match case {
            HexCase::Lower => ", in lowercase hex",
            HexCase::Any => "",
        }
    }

    /// `pay_sig` failed. `body` the exact bytes received; `sandbox` = the body's env is 1;
    /// `case` the app's allowed hex case.
    pub fn pay_sig(
        uri: &str,
        body: &[u8],
        sandbox: bool,
        secrets: &Secrets,
        received: &str,
        case: HexCase,
    ) -> Diagnosis {
        pay_sig_with_query(uri, "", body, sandbox, secrets, received, case)
    }

    /// [`pay_sig`], also trying the path with the request's query string (as received,
    /// access token included: it is only tried, and cut in the output). Without the query,
    /// a diagnosis cannot know the access token, so cannot cut one the body carries.
    pub fn pay_sig_with_query(
        uri: &str,
        query: &str,
        body: &[u8],
        sandbox: bool,
        secrets: &Secrets,
        received: &str,
        case: HexCase,
    ) -> Diagnosis {
        let ((key, key_name), (other, _)) = (secrets.app_key(sandbox), secrets.app_key(!sandbox));
        let (here, there) = (env(sandbox), env(!sandbox));
        let digest = |key: &str, path: &str| Some(s::pay_sig_digest(key, path, body));
        let mut v = Vec::new();

        let (env_sent, env_other) = (sandbox as u8, !sandbox as u8);
        let cause = format!(
            "signed with the {there} AppKey, but the body's env is {env_sent} ({here}): sign with the {here} AppKey, \
             or send env {env_other} for the {there} environment"
        );
        v.push((digest(other, uri), cause));
        for path in sibling_paths(uri).filter(|&p| p != uri) {
            for (k, name) in [(key, here), (other, there)] {
                let cause = format!(
                    "signed the path {path} with the {name} AppKey, but called {uri}: pay_sig covers the path called"
                );
                v.push((digest(k, path), cause));
            }
        }
        if let Some(bare) = uri.strip_prefix('/') {
            let cause = format!("signed the path without its leading slash ({bare}): sign {uri}&<body>");
            v.push((digest(key, bare), cause));
        }
        let url = format!("https://api.weixin.qq.com{uri}");
        let cause = format!("signed the full URL ({url}), but pay_sig covers the path alone: sign {uri}&<body>");
        v.push((digest(key, &url), cause));
        let mut with_query = format!("{uri}?");
        for (i, pair) in query
            .split('&')
            .take_while(|p| !p.starts_with("pay_sig="))
            .take(MAX_PER_PART)
            .enumerate()
        {
            with_query.push_str(if i > 0 { "&" } else { "" });
            with_query.push_str(pair);
            let cause = format!(
                "signed the path with its query string ({with_query}), but pay_sig covers the path alone: sign \
                 {uri}&<body>"
            );
            v.push((digest(key, &with_query), cause));
        }
        let cause = format!(
            "signed with the AppSecret instead of the {here} AppKey: pay_sig is keyed with the AppKey of the body's \
             env (the AppSecret only gets access tokens)"
        );
        v.push((digest(secrets.app_secret, uri), cause));
        if let Some(session) = secrets.session_key {
            let cause = format!(
                "signed pay_sig with the player's session_key instead of the {here} AppKey (the keys of pay_sig and \
                 signature swapped)"
            );
            v.push((digest(session, uri), cause));
        }
        let cause = format!(
            "signed the body alone with the {here} AppKey: pay_sig covers the path, '&' and the body ({uri}&<body>)"
        );
        v.push((Some(s::signature_digest(key, body)), cause));
        v.extend(reserialized(body, |bytes| s::pay_sig_digest(key, uri, bytes)));

        let token = query
            .split('&')
            .find_map(|p| p.strip_prefix("access_token="))
            .unwrap_or("");
        let redactor = Redactor::new(secrets, token);
        let hint = format!(
            "pay_sig is HMAC-SHA256 keyed with the AppKey of the body's env (here {here}) over `signed`: the path, \
             '&' and the exact body bytes sent{}.",
            lowercase(case)
        );
        let draft = Draft {
            signature: "pay_sig",
            key: key_name.to_string(),
            signed: redactor.apply(&format!("{uri}&{}", String::from_utf8_lossy(body))),
            expected: digest(key, uri),
            received,
            case,
            redactor,
        };
        let not_tried = " Not tried: a body changed after signing other than by re-serialization (other values or \
                         fields), or a key that is none of the app's AppKeys, its AppSecret and the player's \
                         session_key.";
        draft.finish(v, hint, not_tried)
    }

    /// `signature` failed (pay_sig passed). The server requires a session first, so
    /// `secrets.session_key` should be Some; without it there is nothing to expect.
    pub fn signature(body: &[u8], secrets: &Secrets, received: &str, case: HexCase) -> Diagnosis {
        let session = secrets.session_key;
        let digest = |key: &str| Some(s::signature_digest(key, body));
        let mut v = Vec::new();

        if let Some(session) = session {
            let decoded = STANDARD.decode(session).ok();
            let cause = "keyed signature with the base64-decoded session_key: the key is its text, as jscode2session \
                         returned it";
            v.push((decoded.map(|raw| sign::hmac_sha256(&raw, body)), cause.into()));
        }
        let env_field = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("env")?.as_i64());
        for sb in [env_field == Some(1), env_field != Some(1)] {
            let cause = format!(
                "signed signature with the {} AppKey instead of the player's session_key (the keys of pay_sig and \
                 signature swapped)",
                env(sb)
            );
            v.push((digest(secrets.app_key(sb).0), cause));
        }
        if let Some(session) = session {
            v.extend(reserialized(body, |bytes| s::signature_digest(session, bytes)));
            for path in Op::ALL
                .map(Op::uri)
                .into_iter()
                .chain(crate::xpay::Op::ALL.map(crate::xpay::Op::uri))
            {
                let cause = format!(
                    "signed {path}&<body> (pay_sig's message) with the session_key: signature covers the body alone"
                );
                v.push((Some(s::pay_sig_digest(session, path, body)), cause));
            }
        }

        let redactor = Redactor::new(secrets, "");
        let mut hint = format!(
            "signature is HMAC-SHA256 keyed with the player's newest session_key as text (not base64-decoded) over \
             the exact body bytes sent, without the path{}.",
            lowercase(case)
        );
        if session.is_none() {
            hint.push_str(NO_SESSION);
        }
        let draft = Draft {
            signature: "signature",
            key: secrets.session_placeholder(),
            signed: redactor.apply(&String::from_utf8_lossy(body)),
            expected: session.and_then(digest),
            received,
            case,
            redactor,
        };
        let not_tried = " Not tried: an older session_key the player had before logging in again (only the newest \
                         is valid: use the one of the latest jscode2session), or a body changed after signing.";
        draft.finish(v, hint, if session.is_some() { not_tried } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{hmac_sha256, to_hex, v1 as s1, v2 as s2};

    const KEY: &str = "AppKeyOfficial0123";
    const SANDBOX_KEY: &str = "AppKeySandbox4567";
    const APP_SECRET: &str = "AppSecretQwerty89";
    /// base64 of "sessionKey123456", so the decoded variant has bytes to try.
    const SESSION: &str = "c2Vzc2lvbktleTEyMzQ1Ng==";
    const TOKEN: &str = "TOKENabcdef0123456789";
    const PAY: &str = "/cgi-bin/midas/pay";
    const SANDBOX_PAY: &str = "/cgi-bin/midas/sandbox/pay";
    const PARAMS: &[(&str, &str)] = &[("openid", "o123"), ("appid", "wx1"), ("ts", "1700"), ("amt", "10")];
    const SORTED: &str = "amt=10&appid=wx1&openid=o123&ts=1700";
    const V2_PAY: &str = "/wxa/game/pay";
    const BODY: &str = r#"{"openid":"o123","env":0,"zone_id":"1","item":"金币"}"#;
    const PYTHON: &str = r#"{"openid": "o123", "env": 0, "zone_id": "1", "item": "\u91d1\u5e01"}"#;
    const PRETTY4_SORTED: &str =
        "{\n    \"env\": 0,\n    \"item\": \"金币\",\n    \"openid\": \"o123\",\n    \"zone_id\": \"1\"\n}";
    const RANDOM: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn secrets() -> Secrets<'static> {
        Secrets {
            app_key: KEY,
            sandbox_app_key: SANDBOX_KEY,
            app_secret: APP_SECRET,
            openid: "o123",
            session_key: Some(SESSION),
        }
    }

    fn hex(key: &[u8], message: &str) -> String {
        to_hex(&hmac_sha256(key, message.as_bytes()))
    }

    fn decoded_session() -> Vec<u8> {
        STANDARD.decode(SESSION).unwrap()
    }

    fn p<'a>() -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
        PARAMS.iter().map(|&(k, v)| -> (&'a str, &'a str) { (k, v) })
    }

    type Case = (Diagnosis, &'static str);

    /// Each row: the diagnosis of what a mistaken client sent, and what its cause must say.
    /// (Tables: kept one row a line.)
    #[rustfmt::skip]
    fn v1_sig_cases() -> Vec<Case> {
        let sig = |received: String| v1::sig(PARAMS, PAY, false, TOKEN, &secrets(), &received);
        let signed = |uri, key| sig(s1::sig(p(), uri, key));
        let sandbox = s1::sig(p(), SANDBOX_PAY, KEY).to_uppercase();
        let get = format!("{SORTED}&org_loc={PAY}&method=GET&secret={KEY}");
        vec![
            (
                signed(PAY, SANDBOX_KEY),
                "signed with the sandbox AppKey, but /cgi-bin/midas/pay is an official path: sign with the official \
                 AppKey, or call /cgi-bin/midas/sandbox/pay",
            ),
            (
                v1::sig(PARAMS, SANDBOX_PAY, true, TOKEN, &secrets(), &sandbox),
                "official AppKey, but /cgi-bin/midas/sandbox/pay is a sandbox path",
            ),
            (signed(SANDBOX_PAY, KEY), "signed org_loc=/cgi-bin/midas/sandbox/pay, but the request went to"),
            (signed(SANDBOX_PAY, SANDBOX_KEY), "signed for the sandbox environment"),
            (
                signed("/cgi-bin/midas/sandbox/present", SANDBOX_KEY),
                "org_loc=/cgi-bin/midas/sandbox/present (another operation's path) with the sandbox AppKey",
            ),
            (signed("/cgi-bin/midas/getbalance", KEY), "getbalance (another operation's path) with the official"),
            (signed(PAY, APP_SECRET), "with the AppSecret instead of the official AppKey"),
            (sig(s1::sig(p().chain([("access_token", TOKEN)]), PAY, KEY)), "signed access_token among the"),
            (sig(s1::sig(p().filter(|(k, _)| *k != "ts"), PAY, KEY)), "sent ts but left it out of sig"),
            (sig(hex(KEY.as_bytes(), SORTED)), "signed only the sorted parameters"),
            (sig(hex(KEY.as_bytes(), &get)), "signed method=GET"),
            (signed(PAY, SESSION), "with the session_key instead of the official AppKey"),
        ]
    }

    #[rustfmt::skip]
    fn v1_mp_sig_cases() -> Vec<Case> {
        let sig = s1::sig(p(), PAY, KEY);
        let mp = |received: String| v1::mp_sig(PARAMS, PAY, TOKEN, &sig, &secrets(), &received);
        let signed = |uri, key| mp(s1::mp_sig(p(), TOKEN, &sig, uri, key));
        // Written out by hand: the strings of a client that left parameters out.
        let tail = format!("&org_loc={PAY}&method=POST&session_key={SESSION}");
        let no_token = format!("amt=10&appid=wx1&openid=o123&sig={sig}&ts=1700{tail}");
        let no_sig = format!("access_token={TOKEN}&amt=10&appid=wx1&openid=o123&ts=1700{tail}");
        let decoded = hex(&decoded_session(), &s1::mp_sig_string(p(), TOKEN, &sig, PAY, SESSION));
        vec![
            (mp(decoded), "base64-decoded session_key"),
            (signed(PAY, KEY), "with the official AppKey instead of the player's session_key"),
            (signed(PAY, SANDBOX_KEY), "with the sandbox AppKey instead"),
            (mp(hex(SESSION.as_bytes(), &no_token)), "left access_token out of mp_sig"),
            (mp(hex(SESSION.as_bytes(), &no_sig)), "left sig out of mp_sig"),
            (mp(hex(SESSION.as_bytes(), &format!("{SORTED}{tail}"))), "left access_token and sig out"),
            (signed(SANDBOX_PAY, SESSION), "signed org_loc=/cgi-bin/midas/sandbox/pay in mp_sig"),
        ]
    }

    #[rustfmt::skip]
    fn v2_pay_sig_cases() -> Vec<Case> {
        let ps = |received: String| v2::pay_sig(V2_PAY, BODY.as_bytes(), false, &secrets(), &received, HexCase::Lower);
        let signed = |key, uri: &str, body: &str| ps(s2::pay_sig(key, uri, body.as_bytes()));
        let upper = |key| ps(s2::pay_sig(key, V2_PAY, BODY.as_bytes()).to_uppercase());
        let query = format!("access_token={TOKEN}&signature=abc&sig_method=hmac_sha256&pay_sig=x");
        let with_query = s2::pay_sig(KEY, &format!("{V2_PAY}?access_token={TOKEN}"), BODY.as_bytes());
        let lower = HexCase::Lower;
        vec![
            (upper(KEY), "signature_hex = \"any\""),
            (signed(SANDBOX_KEY, V2_PAY, BODY), "with the sandbox AppKey, but the body's env is 0 (official)"),
            (upper(SANDBOX_KEY), "with the sandbox AppKey, but the body's env is 0 (official): sign with the"),
            (upper(SANDBOX_KEY), "(and send lowercase hex: this app refuses uppercase)"),
            (signed(KEY, "/wxa/game/getbalance", BODY), "signed the path /wxa/game/getbalance"),
            (signed(KEY, "wxa/game/pay", BODY), "without its leading slash"),
            (signed(KEY, "https://api.weixin.qq.com/wxa/game/pay", BODY), "signed the full URL"),
            (
                v2::pay_sig_with_query(V2_PAY, &query, BODY.as_bytes(), false, &secrets(), &with_query, lower),
                "with its query string (/wxa/game/pay?access_token=TOKENa...)",
            ),
            (signed(APP_SECRET, V2_PAY, BODY), "with the AppSecret"),
            (signed(SESSION, V2_PAY, BODY), "session_key instead of the official AppKey"),
            (ps(s2::signature(KEY, BODY.as_bytes())), "signed the body alone"),
            (signed(KEY, V2_PAY, &format!("{BODY}\n")), "with a trailing newline but sent it without one"),
            (
                signed(KEY, V2_PAY, PYTHON),
                "signed the body re-serialized with spaces after ':' and ',' (Python json.dumps default), but sent \
                 other bytes: sign the exact bytes you send",
            ),
            (signed(KEY, V2_PAY, PRETTY4_SORTED), "pretty-printed with 4-space indentation, with keys sorted,"),
        ]
    }

    #[rustfmt::skip]
    fn v2_signature_cases() -> Vec<Case> {
        let sg = |received: String| v2::signature(BODY.as_bytes(), &secrets(), &received, HexCase::Lower);
        let signed = |key, body: &str| sg(s2::signature(key, body.as_bytes()));
        vec![
            (sg(s2::signature(SESSION, BODY.as_bytes()).to_uppercase()), "sent signature in uppercase hex"),
            (sg(hex(&decoded_session(), BODY)), "base64-decoded session_key"),
            (signed(KEY, BODY), "with the official AppKey instead of the player's session_key"),
            (signed(SANDBOX_KEY, BODY), "with the sandbox AppKey"),
            (signed(SESSION, PYTHON), "Python json.dumps default"),
            (signed(SESSION, &format!("{BODY}\n")), "trailing newline"),
            (sg(s2::pay_sig(SESSION, V2_PAY, BODY.as_bytes())), "signed /wxa/game/pay&<body> (pay_sig's message)"),
        ]
    }

    /// One diagnosis of each signature where nothing tried matches.
    fn unmatched(session_key: Option<&str>) -> [Diagnosis; 4] {
        let s = Secrets {
            session_key,
            ..secrets()
        };
        [
            v1::sig(PARAMS, PAY, false, TOKEN, &s, RANDOM),
            v1::mp_sig(PARAMS, PAY, TOKEN, "abc", &s, RANDOM),
            v2::pay_sig(V2_PAY, BODY.as_bytes(), false, &s, RANDOM, HexCase::Lower),
            v2::signature(BODY.as_bytes(), &s, RANDOM, HexCase::Any),
        ]
    }

    #[test]
    fn every_variant_is_named() {
        for (d, needle) in [
            v1_sig_cases(),
            v1_mp_sig_cases(),
            v2_pay_sig_cases(),
            v2_signature_cases(),
        ]
        .concat()
        {
            let cause = d.likely_cause.unwrap_or_else(|| panic!("no cause, wanted {needle:?}"));
            assert!(cause.contains(needle), "{cause:?} lacks {needle:?}");
        }
    }

    #[test]
    fn signed_is_the_servers_string_with_placeholders() {
        let d = &v1_sig_cases()[0].0;
        assert_eq!(
            d.signed,
            format!("{SORTED}&org_loc={PAY}&method=POST&secret=<AppKey official>")
        );
        assert_eq!(
            (d.key.as_str(), d.algorithm, d.signature),
            ("<AppKey official>", "hmac_sha256", "sig")
        );
        assert_eq!(d.expected, s1::sig(p(), PAY, KEY));
        let d = &v1_mp_sig_cases()[0].0;
        assert!(d.signed.starts_with("access_token=TOKENa...&amt=10&"), "{}", d.signed);
        assert!(d
            .signed
            .ends_with("&method=POST&session_key=<session_key of openid o123>"));
        assert_eq!(d.key, "<session_key of openid o123>");
        let d = &v2_pay_sig_cases()[0].0;
        assert_eq!(
            (d.signed.as_str(), d.key.as_str()),
            (&*format!("{V2_PAY}&{BODY}"), "<AppKey official>")
        );
        assert_eq!(d.expected, s2::pay_sig(KEY, V2_PAY, BODY.as_bytes()));
        let d = v2::pay_sig(V2_PAY, BODY.as_bytes(), true, &secrets(), RANDOM, HexCase::Any);
        assert_eq!(d.key, "<AppKey sandbox>");
    }

    #[test]
    fn nothing_matching_says_what_was_not_tried() {
        let [sig, mp_sig, pay_sig, signature] = unmatched(Some(SESSION));
        for d in [&sig, &mp_sig, &pay_sig, &signature] {
            assert_eq!(
                (d.likely_cause.as_deref(), d.received.as_str()),
                (None, RANDOM),
                "{d:#?}"
            );
        }
        assert!(sig.hint.contains("Not tried: a body changed after it was signed"));
        assert!(mp_sig.hint.contains("an older session_key"));
        assert!(pay_sig.hint.contains("Not tried") && pay_sig.hint.contains("lowercase hex"));
        assert!(signature.hint.contains("an older session_key") && !signature.hint.contains("lowercase hex"));
        let [_, mp_sig, _, signature] = unmatched(None);
        for d in [mp_sig, signature] {
            assert_eq!(d.expected, "");
            assert!(d.hint.contains("no session"), "{}", d.hint);
        }
    }

    #[test]
    fn no_secret_reaches_the_output() {
        let cases = [
            v1_sig_cases(),
            v1_mp_sig_cases(),
            v2_pay_sig_cases(),
            v2_signature_cases(),
        ]
        .concat();
        let mut all: Vec<Diagnosis> = cases.into_iter().map(|(d, _)| d).collect();
        all.extend(unmatched(Some(SESSION)));
        all.extend(unmatched(None));
        // Secrets where they do not belong: in values, bodies, signatures.
        let leaky: &[(&str, &str)] = &[("app_remark", KEY), ("pay_item", SESSION), ("openid", "o123")];
        all.push(v1::sig(leaky, PAY, false, TOKEN, &secrets(), SANDBOX_KEY));
        all.push(v1::mp_sig(leaky, PAY, TOKEN, APP_SECRET, &secrets(), TOKEN));
        // A 2.0 diagnosis knows the access token only from the query it is given.
        let body = format!(r#"{{"k":"{APP_SECRET}","t":"{TOKEN}","s":"{SANDBOX_KEY}"}}"#);
        let query = format!("access_token={TOKEN}");
        let case = HexCase::Lower;
        all.push(v2::pay_sig_with_query(
            V2_PAY,
            &query,
            body.as_bytes(),
            false,
            &secrets(),
            SESSION,
            case,
        ));
        let body = format!(r#"{{"k":"{APP_SECRET}","s":"{SANDBOX_KEY}"}}"#);
        all.push(v2::signature(body.as_bytes(), &secrets(), KEY, case));
        let decoded = String::from_utf8(decoded_session()).unwrap();
        for d in &all {
            let json = serde_json::to_string(d).unwrap();
            for secret in [KEY, SANDBOX_KEY, APP_SECRET, SESSION, TOKEN, &decoded] {
                assert!(!json.contains(secret), "{secret} in {json}");
            }
        }
        assert!(all.iter().any(|d| d.signed.contains("app_remark=<AppKey official>")));
    }

    #[test]
    fn redaction_is_one_pass_and_tokens_are_cut() {
        assert_eq!(cut_token(TOKEN), "TOKENa...");
        assert_eq!(cut_token("abcdef"), "...");
        let s = Secrets {
            app_key: "Key",
            sandbox_app_key: "KeyLonger",
            ..secrets()
        };
        // The longer secret goes whole, and "Key" inside a placeholder is not replaced again.
        assert_eq!(
            Redactor::new(&s, "").apply("a=KeyLonger&b=Key"),
            "a=<AppKey sandbox>&b=<AppKey official>"
        );
    }
}
