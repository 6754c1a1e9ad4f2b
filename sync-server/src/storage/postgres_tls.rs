//! TLS to PostgreSQL, as libpq's `sslmode` describes it, over rustls.
//!
//! The database URL takes libpq's parameters: `sslmode` (`disable`, `prefer` (the default),
//! `require`, `verify-ca`, `verify-full`) and `sslrootcert` (the authority's certificate, a
//! PEM file; `~/.postgresql/root.crt` if not given, as libpq). The PostgreSQL client library
//! knows only the first three modes, so the server reads both parameters out of the URL and
//! makes the connector itself:
//! - `prefer` and `require` encrypt without checking whose certificate it is (as libpq does),
//!   which stops a listener on the path but not a machine posing as the database;
//! - `verify-ca` also checks that the agency's authority signed it;
//! - `verify-full` checks as well that it was made for the host in the URL: what a database
//!   across a network should use.
//!
//! Changes and case notes travel on this connection, so a connection to another machine that
//! may be in the clear is logged as a warning at start.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::{Host, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{VerifierBuilderError, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the connection to PostgreSQL is protected: libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// In the clear.
    Disable,
    /// Encrypted if the database offers it, unchecked; else in the clear.
    Prefer,
    /// Encrypted, unchecked.
    Require,
    /// Encrypted, by a certificate the authority signed.
    VerifyCa,
    /// Encrypted, by a certificate the authority signed for the URL's host.
    VerifyFull,
}

/// A database URL, read: the client library's configuration, and the TLS it asks for.
#[derive(Debug)]
pub struct DatabaseUrl {
    /// Everything but the TLS parameters.
    pub config: postgres::Config,
    /// `sslmode`.
    pub mode: TlsMode,
    /// `sslrootcert`.
    pub root_certificate: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Reads `url` (`postgres://user:password@host:port/database?sslmode=verify-full&...`).
    /// The error never repeats the URL, which may hold a password.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = TlsMode::Prefer;
        let mut root_certificate = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value)?;
            match key {
                "sslmode" => {
                    mode = match value.as_str() {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode={other} is not one of disable, prefer, require, \
                                 verify-ca, verify-full"
                            ));
                        }
                    }
                }
                "sslrootcert" => root_certificate = Some(PathBuf::from(value)),
                _ => rest.push(pair),
            }
        }
        let rebuilt = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config: postgres::Config = rebuilt
            .parse()
            .map_err(|error| format!("the PostgreSQL URL does not parse: {error}"))?;
        config.ssl_mode(match mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        Ok(DatabaseUrl {
            config,
            mode,
            root_certificate,
        })
    }

    /// Why the connection may be in the clear across a network, if it may: a mode that
    /// allows plain connections to a host other than this machine.
    pub fn plain_to_another_machine(&self) -> Option<String> {
        if !matches!(self.mode, TlsMode::Disable | TlsMode::Prefer) {
            return None;
        }
        let remote: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .filter_map(|host| match host {
                Host::Tcp(name) => {
                    let loopback = name == "localhost"
                        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                    (!loopback).then(|| name.clone())
                }
                #[cfg(unix)]
                Host::Unix(_) => None,
            })
            .collect();
        (!remote.is_empty()).then(|| remote.join(", "))
    }

    /// The connector for the URL's mode.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS: {error}"))?;
        let config = match self.mode {
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|error: VerifierBuilderError| format!("TLS: {error}"))?;
                if self.mode == TlsMode::VerifyFull {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AuthorityOnly(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    /// The authorities `sslrootcert` names (or libpq's default file).
    fn roots(&self) -> Result<RootCertStore, String> {
        let path = match &self.root_certificate {
            Some(path) => path.clone(),
            None => std::env::home_dir()
                .ok_or("sslmode=verify-ca and verify-full need sslrootcert=<file>")?
                .join(".postgresql/root.crt"),
        };
        let pem = std::fs::read(&path)
            .map_err(|error| format!("reading sslrootcert {}: {error}", path.display()))?;
        let mut roots = RootCertStore::empty();
        for certificate in rustls_pemfile_certs(&pem)? {
            roots
                .add(certificate)
                .map_err(|error| format!("sslrootcert {}: {error}", path.display()))?;
        }
        if roots.is_empty() {
            return Err(format!(
                "sslrootcert {} holds no certificate",
                path.display()
            ));
        }
        Ok(roots)
    }
}

/// The certificates in a PEM file.
fn rustls_pemfile_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("sslrootcert is not PEM: {error}"))
}

/// `%41` and the like, in a URL's parameter.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text
                .get(at + 1..at + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or("a parameter of the PostgreSQL URL has a bad %-escape")?;
            decoded.push(hex);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| "a parameter of the PostgreSQL URL is not UTF-8".into())
}

/// `require`: the handshake's signatures are checked, the certificate's issuer and name are
/// not (libpq's meaning of the mode).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the authority must have signed the certificate, for whichever host.
#[derive(Debug)]
struct AuthorityOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AuthorityOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls12_signature(message, certificate, signature)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0
            .verify_tls13_signature(message, certificate, signature)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_modes_are_read_out_of_the_url_and_the_rest_left_to_the_client_library() {
        let url = DatabaseUrl::parse(
            "postgres://doorstep:secret@db.agency.example:5433/doorstep?sslmode=verify-full&\
             sslrootcert=%2Fetc%2Fssl%2Fagency-ca.pem&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(url.mode, TlsMode::VerifyFull);
        assert_eq!(
            url.root_certificate,
            Some(PathBuf::from("/etc/ssl/agency-ca.pem"))
        );
        assert_eq!(url.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(url.config.get_ports(), &[5433]);
        assert_eq!(
            url.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        assert!(url.plain_to_another_machine().is_none());

        let plain = DatabaseUrl::parse("postgres://u@db.agency.example/doorstep").unwrap();
        assert_eq!(plain.mode, TlsMode::Prefer);
        assert_eq!(
            plain.plain_to_another_machine().as_deref(),
            Some("db.agency.example")
        );
        let local =
            DatabaseUrl::parse("postgres://u@127.0.0.1:54329/doorstep?sslmode=disable").unwrap();
        assert!(local.plain_to_another_machine().is_none());

        let wrong = DatabaseUrl::parse("postgres://u:hunter2@db/x?sslmode=verify").unwrap_err();
        assert!(wrong.contains("sslmode=verify is not one of"), "{wrong}");
        assert!(!wrong.contains("hunter2"));
    }

    #[test]
    fn verifying_modes_need_an_authority_they_can_read() {
        let url = DatabaseUrl::parse(
            "postgres://u@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .unwrap();
        let error = url.connector().err().unwrap();
        assert!(
            error.contains("reading sslrootcert /nonexistent/ca.pem"),
            "{error}"
        );
        assert!(
            DatabaseUrl::parse("postgres://u@db/x?sslmode=require")
                .unwrap()
                .connector()
                .is_ok()
        );
    }
}
