//! The push channel's signatures and safe mode's AES (behaviour.md section 12;
//! wechat-reference-vp2-xpay.md sections 3.2 and 3.3, whose official vectors the tests
//! reproduce).

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine;
use serde::Deserialize;
use sha1::{Digest, Sha1};

use super::xml;
use super::{PushError, PushFormat, MAX_PUSH_BYTES};

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

/// The padding block of WXBizMsgCrypt: PKCS#7 to 32 bytes, not AES's 16.
const PAD_BLOCK: usize = 32;

/// sha1 hex of the lexicographically sorted concatenation of `parts`.
fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts.iter() {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The query's `signature`: sha1 of the sorted concatenation of token, timestamp and nonce
/// (lowercase hex). It covers no part of the body.
pub fn url_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce])
}

/// Safe mode's `msg_signature`: [`url_signature`] with the `Encrypt` text as a fourth part.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce, encrypt])
}

/// The AES-256 key of safe mode: base64 of the EncodingAESKey with `=` appended.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(..)")
    }
}

impl AesKey {
    /// Decodes a 43-character EncodingAESKey. The last character's unused bits are
    /// ignored, as WeChat's SDKs do (keys are 43 random alphanumerics).
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<AesKey, PushError> {
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let chars = encoding_aes_key.chars().count();
        if chars != 43 {
            return Err(PushError::InvalidAesKey(format!("{chars} characters")));
        }
        let decoded = LENIENT
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| PushError::InvalidAesKey("not base64".into()))?;
        let bytes: [u8; 32] = decoded
            .try_into()
            .map_err(|_| PushError::InvalidAesKey("not 32 bytes".into()))?;
        Ok(AesKey(bytes))
    }

    /// The 32 key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn iv(&self) -> &[u8] {
        &self.0[..16]
    }
}

/// Encrypts `msg` for `appid` (base64): plaintext = `random16 ‖ u32 BE len(msg) ‖ msg ‖
/// appid`, PKCS#7-padded to 32-byte blocks, AES-256-CBC with IV = key[..16].
pub fn encrypt(key: &AesKey, random16: [u8; 16], msg: &[u8], appid: &str) -> String {
    let len = 16 + 4 + msg.len() + appid.len();
    let pad = PAD_BLOCK - len % PAD_BLOCK;
    let mut buf = Vec::with_capacity(len + pad);
    buf.extend_from_slice(&random16);
    // A message longer than u32::MAX cannot be sent; the length is written as WeChat does.
    buf.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    buf.extend_from_slice(msg);
    buf.extend_from_slice(appid.as_bytes());
    buf.resize(len + pad, pad as u8);
    let total = buf.len();
    let cipher = Encryptor::new_from_slices(key.bytes(), key.iv()).expect("32-byte key, 16-byte IV");
    let ciphertext = cipher
        .encrypt_padded_mut::<NoPadding>(&mut buf, total)
        .expect("the plaintext is whole blocks");
    STANDARD.encode(ciphertext)
}

/// Decrypts an `Encrypt` text: the message and the appid it was encrypted for (which the
/// caller must check). Any input gives an answer or an error, never a panic.
pub fn decrypt(key: &AesKey, encrypt_b64: &str) -> Result<(Vec<u8>, String), PushError> {
    if encrypt_b64.len() > MAX_PUSH_BYTES {
        return Err(PushError::TooLarge);
    }
    let mut buf = STANDARD.decode(encrypt_b64.trim()).map_err(|_| PushError::Base64)?;
    if buf.is_empty() || buf.len() % 16 != 0 {
        return Err(PushError::CipherLength);
    }
    let cipher = Decryptor::new_from_slices(key.bytes(), key.iv()).map_err(|_| PushError::CipherLength)?;
    let plain = cipher
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| PushError::CipherLength)?;
    let pad = usize::from(plain[plain.len() - 1]);
    if !(1..=PAD_BLOCK).contains(&pad) || pad > plain.len() {
        return Err(PushError::Padding);
    }
    let content = &plain[..plain.len() - pad];
    if content.len() < 20 {
        return Err(PushError::Length);
    }
    let msg_len = u32::from_be_bytes([content[16], content[17], content[18], content[19]]) as usize;
    let rest = &content[20..];
    if msg_len > rest.len() {
        return Err(PushError::Length);
    }
    let (msg, appid) = rest.split_at(msg_len);
    let appid = std::str::from_utf8(appid).map_err(|_| PushError::Appid)?;
    Ok((msg.to_vec(), appid.to_string()))
}

/// Safe mode's body: `{"ToUserName","Encrypt"}` in the channel's format.
pub fn safe_body(format: PushFormat, to_user_name: &str, encrypt: &str) -> String {
    match format {
        PushFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert("ToUserName".into(), to_user_name.into());
            object.insert("Encrypt".into(), encrypt.into());
            serde_json::Value::Object(object).to_string()
        }
        PushFormat::Xml => {
            let mut out = String::from("<xml>");
            xml::push_text_element(&mut out, "ToUserName", to_user_name);
            xml::push_text_element(&mut out, "Encrypt", encrypt);
            out.push_str("</xml>");
            out
        }
    }
}

/// A safe-mode body, read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeBody {
    pub format: PushFormat,
    /// Empty when absent.
    pub to_user_name: String,
    pub encrypt: String,
}

/// Reads a safe-mode body (JSON or XML, by its first non-space byte).
pub fn parse_safe_body(body: &[u8]) -> Result<SafeBody, PushError> {
    if body.len() > MAX_PUSH_BYTES {
        return Err(PushError::TooLarge);
    }
    #[derive(Deserialize)]
    struct Json {
        #[serde(rename = "ToUserName", default)]
        to_user_name: String,
        #[serde(rename = "Encrypt")]
        encrypt: String,
    }
    match PushFormat::detect(body) {
        Some(PushFormat::Json) => {
            let json: Json = serde_json::from_slice(body).map_err(|e| PushError::Malformed(e.to_string()))?;
            Ok(SafeBody {
                format: PushFormat::Json,
                to_user_name: json.to_user_name,
                encrypt: json.encrypt,
            })
        }
        Some(PushFormat::Xml) => {
            let text = std::str::from_utf8(body).map_err(|_| PushError::Malformed("not UTF-8".into()))?;
            let fields = xml::flat_children(text).map_err(PushError::Malformed)?;
            let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
            let encrypt = get("Encrypt").ok_or_else(|| PushError::Malformed("no Encrypt".into()))?;
            Ok(SafeBody {
                format: PushFormat::Xml,
                to_user_name: get("ToUserName").unwrap_or_default(),
                encrypt,
            })
        }
        None => Err(PushError::Malformed("neither JSON nor XML".into())),
    }
}

/// The query of a push: `signature`, `timestamp`, `nonce` and, in safe mode (given the
/// event's `FromUserName` and the `Encrypt` text), `openid`, `encrypt_type=aes` and
/// `msg_signature`. Values are not percent-encoded (callers' URL builders do that).
pub fn push_query(
    token: &str,
    timestamp: &str,
    nonce: &str,
    safe: Option<(&str, &str)>,
) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("signature", url_signature(token, timestamp, nonce)),
        ("timestamp", timestamp.to_string()),
        ("nonce", nonce.to_string()),
    ];
    if let Some((openid, encrypt)) = safe {
        query.push(("openid", openid.to_string()));
        query.push(("encrypt_type", "aes".to_string()));
        query.push(("msg_signature", msg_signature(token, timestamp, nonce, encrypt)));
    }
    query
}

/// The query of the URL check (GET): `signature`, `timestamp`, `nonce`, `echostr`.
pub fn url_check_query(token: &str, timestamp: &str, nonce: &str, echostr: &str) -> Vec<(&'static str, String)> {
    vec![
        ("signature", url_signature(token, timestamp, nonce)),
        ("timestamp", timestamp.to_string()),
        ("nonce", nonce.to_string()),
        ("echostr", echostr.to_string()),
    ]
}

/// Whether the URL check's answer echoes `echostr`: the body exactly, ignoring whitespace
/// around it (a trailing newline is common).
pub fn echo_matches(expected_echostr: &str, body: &[u8]) -> bool {
    body.trim_ascii() == expected_echostr.as_bytes()
}

/// An encrypted reply (what a receiver answers when it has more to say than `success`):
/// `{"Encrypt","MsgSignature","TimeStamp","Nonce"}` or its XML form, with `MsgSignature` =
/// [`msg_signature`] of the reply's own timestamp and nonce.
#[allow(clippy::too_many_arguments)]
pub fn encrypted_reply(
    key: &AesKey,
    appid: &str,
    random16: [u8; 16],
    msg: &[u8],
    timestamp: i64,
    nonce: &str,
    token: &str,
    format: PushFormat,
) -> String {
    let encrypted = encrypt(key, random16, msg, appid);
    let signature = msg_signature(token, &timestamp.to_string(), nonce, &encrypted);
    match format {
        PushFormat::Json => {
            let mut object = serde_json::Map::new();
            object.insert("Encrypt".into(), encrypted.into());
            object.insert("MsgSignature".into(), signature.into());
            object.insert("TimeStamp".into(), timestamp.into());
            object.insert("Nonce".into(), nonce.into());
            serde_json::Value::Object(object).to_string()
        }
        PushFormat::Xml => {
            let mut out = String::from("<xml>");
            xml::push_text_element(&mut out, "Encrypt", &encrypted);
            xml::push_text_element(&mut out, "MsgSignature", &signature);
            out.push_str(&format!("<TimeStamp>{timestamp}</TimeStamp>"));
            xml::push_text_element(&mut out, "Nonce", nonce);
            out.push_str("</xml>");
            out
        }
    }
}
