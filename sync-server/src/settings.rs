//! Settings in layers: built-in defaults, then a TOML file, then `DOORSTEP_*` environment
//! variables, then the command line (the last two through clap).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// Settings a file may hold; each is optional there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Address and port to listen on.
    pub listen: Option<SocketAddr>,
    /// Folder for the embedded database.
    pub data_dir: Option<PathBuf>,
    /// `sqlite` (default) or a `postgres://` URL.
    pub database: Option<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Longest a request may take, in seconds, before it is answered 408.
    pub request_timeout_secs: Option<u64>,
    /// Request bodies held in memory at once, across all requests, in bytes.
    pub bodies_in_memory_bytes: Option<usize>,
    /// Seconds a new connection may take to send its first request's headers (10 by
    /// default).
    pub header_timeout_secs: Option<u64>,
    /// Seconds a connection kept open between requests waits for the next (75 by default;
    /// keep it above a minute, which devices keep an idle connection).
    pub keep_alive_secs: Option<u64>,
    /// Seconds a request body may stop arriving before the request is answered 408 (10 by
    /// default).
    pub body_idle_timeout_secs: Option<u64>,
    /// Sign-in attempts allowed per user name, and per client address, per minute. An
    /// office where many devices sign in from one address at once may need more than the
    /// default.
    pub sign_ins_per_minute: Option<usize>,
    /// What one document's push may hold once inflated, in bytes (4 MiB by default).
    pub max_push_bytes: Option<usize>,
    /// How many Automerge operations one document's push may hold (100,000 by default).
    pub max_push_operations: Option<usize>,
    /// Days a device's token may go unused before it stops working (90 by default); the
    /// worker then signs in again, and keeps what the device holds.
    pub token_idle_days: Option<u64>,
    /// Days the audit log keeps an entry (2190, six years, by default; 0 keeps every entry).
    /// `serve` deletes older entries once a day; export them first to keep them longer.
    pub audit_retention_days: Option<u64>,
    /// The largest attachment the server takes, in bytes (32 MiB by default; devices take
    /// at most 20 MiB unless their settings say otherwise).
    pub max_blob_bytes: Option<u64>,
    /// Days an attachment's bytes are kept after no record names them any longer (30 by
    /// default), before `serve` deletes them.
    pub blob_grace_days: Option<u64>,
    /// A folder with the web app's build, served at `/`.
    pub web_root: Option<PathBuf>,
    /// Other web origins whose pages may call the API.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Addresses or networks (`10.0.0.0/8`) of reverse proxies in front of the server: only
    /// from them is the client's address in `client_address_header` believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies name their client in: `x-forwarded-for` (the default)
    /// or `forwarded` (RFC 7239). The proxy must append to it, not pass on the client's.
    pub client_address_header: Option<String>,
}

impl FileSettings {
    /// Reads a settings file.
    pub fn read(path: &Path) -> anyhow::Result<FileSettings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading settings from {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_settings_file_reads_and_unknown_keys_are_errors() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("doorstep.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/doorstep\"\n",
        )
        .unwrap();
        let settings = FileSettings::read(&path).unwrap();
        assert_eq!(settings.listen.unwrap().port(), 9000);
        assert_eq!(
            settings.data_dir.unwrap(),
            PathBuf::from("/var/lib/doorstep")
        );
        std::fs::write(&path, "listne = \"127.0.0.1:9000\"\n").unwrap();
        assert!(FileSettings::read(&path).is_err());
    }
}
