//! HTTPS (behaviour.md section 15): a local certificate authority made once, on disk, and a
//! server certificate issued from it at every start.
//!
//! A client that hard-codes `https://api.weixin.qq.com` talks to OpenMidas unchanged once the
//! CA is trusted and a hosts entry points the name here. The CA lives in a directory of its
//! own (`ca.pem`, and `ca-key.pem` readable by the owner only); the server certificate and
//! its key are never written anywhere: each start issues a fresh one, so its names always
//! match the flags and it never expires under a running deployment that restarts now and
//! then. No private key is ever logged or printed.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls;

/// The CA certificate's file name inside the TLS directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key's file name (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The TLS directory's name beside a SQLite database.
pub const DEFAULT_DIR_NAME: &str = "openmidas-tls";
/// Names every server certificate carries: WeChat's API host, so that clients hard-coding it
/// need only a hosts entry, and the loopback names.
pub const DEFAULT_NAMES: [&str; 3] = ["api.weixin.qq.com", "localhost", "127.0.0.1"];
/// Most extra names (`--tls-host`) a certificate takes.
pub const MAX_EXTRA_NAMES: usize = 32;
/// How long a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The CA is valid this long from its creation.
const CA_VALIDITY_DAYS: i64 = 3650;
/// A server certificate's validity: under the 398 days that browsers and Apple's clients
/// accept, and re-issued at every start.
const SERVER_VALIDITY_DAYS: i64 = 397;
/// Certificates start a day early so a client whose clock is a little behind accepts them.
const BACKDATE_DAYS: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable certificate authority: {why} (move the directory away to make a new CA)")]
    BadCa { path: PathBuf, why: String },
    #[error("the CA certificate in {path} expired; move the directory away to make a new CA (and trust the new one)")]
    CaExpired { path: PathBuf },
    #[error("invalid --tls-host {name:?}: {why}")]
    BadName { name: String, why: String },
    #[error("cannot make a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The local certificate authority kept in a directory.
pub struct LocalCa {
    dir: PathBuf,
    cert_pem: String,
    key: KeyPair,
    created: bool,
}

impl std::fmt::Debug for LocalCa {
    // The key is left out on purpose.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// The TLS directory beside a SQLite database file.
    pub fn dir_beside(database: &Path) -> PathBuf {
        let parent = match database.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        parent.join(DEFAULT_DIR_NAME)
    }

    /// Opens the CA in `dir`, creating the directory, the key and the certificate if they do
    /// not exist. Safe when several processes start at once on a shared directory: the first
    /// key and the first certificate to be linked into place win, the others are discarded.
    pub fn open_or_create(dir: &Path) -> Result<LocalCa, TlsError> {
        let mut created = false;
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(io_error(dir))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(dir))?;
            // Keeps the key out of a project's repository.
            write_new(
                &dir.join(".gitignore"),
                b"# OpenMidas's local CA: never commit its key.\n*\n",
                0o644,
            )?;
        }
        let key_path = dir.join(CA_KEY_FILE);
        if !key_path.exists() {
            let key = KeyPair::generate()?;
            created |= write_new(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
        }
        let key_pem = std::fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| TlsError::BadCa {
            path: key_path.clone(),
            why: format!("cannot read the key: {e}"),
        })?;

        let cert_path = dir.join(CA_CERT_FILE);
        if !cert_path.exists() {
            let cert = ca_params()?.self_signed(&key)?;
            created |= write_new(&cert_path, cert.pem().as_bytes(), 0o644)?;
        }
        let cert_pem = std::fs::read_to_string(&cert_path).map_err(io_error(&cert_path))?;
        check_ca(&cert_path, &cert_pem, &key)?;
        Ok(LocalCa {
            dir: dir.to_path_buf(),
            cert_pem,
            key,
            created,
        })
    }

    /// The CA certificate's path: what clients trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// The directory holding the CA.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this call made the CA (a first run).
    pub fn created(&self) -> bool {
        self.created
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for [`DEFAULT_NAMES`] and `extra_names`, and a rustls
    /// configuration serving it (HTTP/1.1, TLS 1.2 and 1.3).
    pub fn server_config(&self, extra_names: &[String]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let (cert_der, key_der) = self.issue_server_certificate(extra_names)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key_der)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A fresh server certificate (DER) and its key.
    pub fn issue_server_certificate(
        &self,
        extra_names: &[String],
    ) -> Result<
        (
            rustls::pki_types::CertificateDer<'static>,
            rustls::pki_types::PrivateKeyDer<'static>,
        ),
        TlsError,
    > {
        let names = server_names(extra_names)?;
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?;
        let mut params = CertificateParams::new(names.clone())?;
        params.distinguished_name.push(DnType::CommonName, names[0].as_str());
        params.distinguished_name.push(DnType::OrganizationName, "OpenMidas");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(BACKDATE_DAYS);
        params.not_after = now + time::Duration::days(SERVER_VALIDITY_DAYS);
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        Ok((cert.der().clone(), key_der))
    }
}

/// The names of a server certificate: the defaults, then the extra ones (deduplicated).
pub fn server_names(extra_names: &[String]) -> Result<Vec<String>, TlsError> {
    if extra_names.len() > MAX_EXTRA_NAMES {
        return Err(TlsError::BadName {
            name: extra_names[MAX_EXTRA_NAMES].clone(),
            why: format!("at most {MAX_EXTRA_NAMES} extra names"),
        });
    }
    let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|n| n.to_string()).collect();
    for name in extra_names {
        let name = name.trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && (name.parse::<std::net::IpAddr>().is_ok()
                || name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                }));
        if !valid {
            return Err(TlsError::BadName {
                name,
                why: "a host name (letters, digits, - and dots) or an IP address".into(),
            });
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn ca_params() -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    // A distinct name per CA, so a user who trusted several can tell them apart.
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc();
    let label = if host.is_empty() {
        format!("OpenMidas local CA {}", now.date())
    } else {
        format!("OpenMidas local CA {host} {}", now.date())
    };
    params.distinguished_name.push(DnType::CommonName, label);
    params.distinguished_name.push(DnType::OrganizationName, "OpenMidas");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - time::Duration::days(BACKDATE_DAYS);
    params.not_after = now + time::Duration::days(CA_VALIDITY_DAYS);
    params.serial_number = Some(random_serial());
    Ok(params)
}

fn random_serial() -> rcgen::SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // Positive and without a leading zero byte: 16 bytes of DER INTEGER.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    rcgen::SerialNumber::from_slice(&bytes)
}

/// The certificate on disk is a CA, belongs to the key, and has not expired.
fn check_ca(path: &Path, pem: &str, key: &KeyPair) -> Result<(), TlsError> {
    let bad = |why: String| TlsError::BadCa {
        path: path.to_path_buf(),
        why,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| bad(format!("not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
    if !cert.is_ca() {
        return Err(bad("the certificate is not a CA".into()));
    }
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(bad(format!("the certificate does not belong to {CA_KEY_FILE}")));
    }
    let not_after = cert.validity().not_after.timestamp();
    if not_after <= time::OffsetDateTime::now_utc().unix_timestamp() {
        return Err(TlsError::CaExpired {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it exists: through a temporary file, fsynced, then
/// hard-linked into place, so a reader never sees half a file and of two racing writers
/// the first wins. Returns whether this call wrote it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<bool, TlsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let temporary = dir.join(format!(
        ".{}.{}.{:x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temporary)
        .map_err(io_error(&temporary))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&temporary));
    drop(file);
    let linked = written.and_then(|()| match std::fs::hard_link(&temporary, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_error(path)(e)),
    });
    let _ = std::fs::remove_file(&temporary);
    if let Ok(true) = linked {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    linked
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn the_ca_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join(DEFAULT_DIR_NAME);
        let first = LocalCa::open_or_create(&tls).unwrap();
        assert!(first.created());
        let second = LocalCa::open_or_create(&tls).unwrap();
        assert!(!second.created());
        assert_eq!(first.cert_pem(), second.cert_pem());
        let key_mode = std::fs::metadata(tls.join(CA_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(key_mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(&tls).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert!(std::fs::read_to_string(tls.join(".gitignore")).unwrap().contains('*'));
    }

    #[test]
    fn a_certificate_of_another_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        LocalCa::open_or_create(&a).unwrap();
        LocalCa::open_or_create(&b).unwrap();
        std::fs::copy(b.join(CA_CERT_FILE), a.join(CA_CERT_FILE)).unwrap();
        let error = LocalCa::open_or_create(&a).unwrap_err().to_string();
        assert!(error.contains("does not belong"), "{error}");
    }

    #[test]
    fn server_names_take_extra_hosts_and_refuse_junk() {
        let names = server_names(&["Midas.Internal".into(), "10.0.0.7".into(), "localhost".into()]).unwrap();
        assert_eq!(
            names,
            [
                "api.weixin.qq.com",
                "localhost",
                "127.0.0.1",
                "midas.internal",
                "10.0.0.7"
            ]
        );
        for junk in ["", "bad host", "-x.example", "a..b", "x_y.example"] {
            assert!(server_names(&[junk.to_string()]).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn a_server_certificate_chains_to_the_ca_for_every_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::open_or_create(&dir.path().join("tls")).unwrap();
        let (cert, _key) = ca.issue_server_certificate(&["midas.test".into()]).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        let (_, ca_der) = x509_parser::pem::parse_x509_pem(ca.cert_pem().as_bytes()).unwrap();
        roots.add(ca_der.contents.into()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        for name in ["api.weixin.qq.com", "localhost", "127.0.0.1", "midas.test"] {
            let server_name = rustls::pki_types::ServerName::try_from(name).unwrap();
            verifier
                .verify_server_cert(&cert, &[], &server_name, &[], now)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("example.com").unwrap();
        assert!(verifier.verify_server_cert(&cert, &[], &other, &[], now).is_err());
    }
}
