//! Which sync server the app signs in to (DESIGN §9): the worker's password goes there, so the
//! address comes from the app itself, never from a link.
//!
//! In a browser the default is the origin that served the app. Another server is typed by
//! the worker, shown by its host, and must be `https`: a password must not cross a network in
//! the clear. Only this device's own loopback addresses may be plain `http`.

use std::net::IpAddr;

use url::{Host, Url};

/// A checked sync server address: scheme, host, port, and any path the agency serves it
/// under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    url: Url,
}

impl ServerAddress {
    /// Checks an address as the worker typed it; without a scheme, `https` is meant.
    pub fn parse(typed: &str) -> Result<ServerAddress, &'static str> {
        let typed = typed.trim();
        if typed.is_empty() {
            return Err("Enter your agency's server address.");
        }
        let with_scheme = if typed.contains("://") {
            typed.to_owned()
        } else {
            format!("https://{typed}")
        };
        let url = Url::parse(&with_scheme)
            .map_err(|_| "That is not a web address, such as https://doorstep.agency.example.")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("Leave your name and password out of the server's address.");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("The server's address ends at its path: no ? or #.");
        }
        let loopback = match url.host() {
            Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => return Err("The server's address needs a host name."),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(
                    "The server must use https, so that your password is not sent in the clear.",
                );
            }
            _ => return Err("The server's address starts with https://."),
        }
        Ok(ServerAddress { url })
    }

    /// The address to sign in and sync at, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The host (and port, if not the scheme's own) the worker is shown.
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_addresses_are_taken_and_shown_by_their_host() {
        let server = ServerAddress::parse(" https://doorstep.agency.example/ ").unwrap();
        assert_eq!(server.as_str(), "https://doorstep.agency.example");
        assert_eq!(server.host(), "doorstep.agency.example");
        let server = ServerAddress::parse("doorstep.agency.example:8443/sync").unwrap();
        assert_eq!(server.as_str(), "https://doorstep.agency.example:8443/sync");
        assert_eq!(server.host(), "doorstep.agency.example:8443");
    }

    #[test]
    fn plain_http_is_for_this_device_only() {
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(ServerAddress::parse(local).is_ok(), "{local}");
        }
        for remote in [
            "http://doorstep.agency.example",
            "http://192.168.1.20:8080",
            "http://127.0.0.1.attacker.example",
        ] {
            let refused = ServerAddress::parse(remote).unwrap_err();
            assert!(refused.contains("https"), "{remote}: {refused}");
        }
    }

    #[test]
    fn what_is_not_a_server_address_is_refused() {
        for typed in [
            "",
            "ftp://doorstep.agency.example",
            "https://amara:secret@doorstep.agency.example",
            "https://doorstep.agency.example/?server=elsewhere",
            "javascript:alert(1)",
        ] {
            assert!(ServerAddress::parse(typed).is_err(), "{typed:?}");
        }
    }
}
