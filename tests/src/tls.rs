//! Certificates made at test time: a certificate authority of the test's own, and a server
//! certificate it signs for `localhost` and `127.0.0.1`, as an agency's would be for its
//! host name. Written to a folder as PEM files, for nginx and PostgreSQL to serve.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// The PEM files of a test's certificates.
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The authority's certificate: what a client trusts.
    pub authority: PathBuf,
    /// The server's certificate.
    pub certificate: PathBuf,
    /// The server's private key (owner-only, as PostgreSQL demands).
    pub key: PathBuf,
}

impl TestCertificates {
    /// Makes an authority and a server certificate for `localhost` and `127.0.0.1`, and
    /// writes them into `dir`.
    pub fn make_in(dir: &Path) -> anyhow::Result<TestCertificates> {
        let mut authority = CertificateParams::new(Vec::<String>::new())?;
        authority
            .distinguished_name
            .push(DnType::CommonName, "Doorstep test authority");
        authority.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        authority.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let authority = CertifiedIssuer::self_signed(authority, KeyPair::generate()?)?;

        let mut server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server_key = KeyPair::generate()?;
        let server = server.signed_by(&server_key, &authority)?;

        let files = TestCertificates {
            authority: dir.join("authority.pem"),
            certificate: dir.join("server.pem"),
            key: dir.join("server.key"),
        };
        std::fs::write(&files.authority, authority.pem())?;
        std::fs::write(&files.certificate, server.pem())?;
        std::fs::write(&files.key, server_key.serialize_pem())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(files)
    }
}
