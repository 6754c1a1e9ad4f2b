//! Which address a request comes from when it reaches the server through a reverse proxy
//! (which SECURITY.md recommends, for TLS).
//!
//! Behind a proxy every connection comes from the proxy's address, so the per-address limits
//! (the sign-in limit, the share of the body budget) would be one limit for the whole agency,
//! which any outsider could use up, and the audit log would name the proxy for everyone. The
//! proxy says who its client was in a header, but anyone can send that header: it is
//! believed only from [`TrustedProxies`], and only the part those proxies wrote.
//!
//! The header is read from the right, the end the nearest proxy appends to: each trusted
//! hop is skipped, and the first address that is not a trusted proxy is the client. What a
//! client wrote into the header itself is further left, and never reached.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header a trusted proxy reports its client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx's `$proxy_add_x_forwarded_for`,
    /// Caddy's default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!(
                "{text:?} is not a client address header: use x-forwarded-for or forwarded"
            )),
        }
    }
}

/// The reverse proxies whose word on a client's address is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Proxies at `addresses` (each an address, or a network such as `10.0.0.0/8`), which
    /// report their clients in `header`. Only one header is read: a proxy passes on the other
    /// as the client sent it.
    pub fn new(addresses: &[String], header: ForwardedHeader) -> Result<TrustedProxies, String> {
        let networks = addresses
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{text:?} is neither an address nor a network"))
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { networks, header })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy; then the address
    /// its header names, walking back past other trusted proxies. If the header is missing or
    /// unreadable, the nearest proxy's address stands for the client.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return canonical(peer);
        }
        let mut client = canonical(peer);
        for hop in self.hops(headers).into_iter().rev() {
            let Some(address) = hop else {
                // An obfuscated or garbled hop: nothing left of it can be trusted.
                break;
            };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }

    /// The addresses in the header, in order, `None` for a hop that is not an address.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        let mut hops = Vec::new();
        for value in headers.get_all(name) {
            let Ok(value) = value.to_str() else {
                hops.push(None);
                continue;
            };
            for element in value.split(',') {
                hops.push(match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(element),
                    ForwardedHeader::Forwarded => element
                        .split(';')
                        .find_map(|pair| {
                            let (key, value) = pair.split_once('=')?;
                            key.trim().eq_ignore_ascii_case("for").then_some(value)
                        })
                        .and_then(parse_node),
                });
            }
        }
        hops
    }
}

/// An address as a header gives it: bare, quoted, in brackets, with a port or without.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (address, _port) = rest.split_once(']')?;
        return address.parse().ok().map(canonical);
    }
    let (address, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse().ok().map(canonical)
}

/// IPv4 addresses that arrive mapped into IPv6 (a dual-stack listener) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_header_from_anyone_but_a_trusted_proxy_is_ignored() {
        let proxies =
            TrustedProxies::new(&["10.0.0.5".into()], ForwardedHeader::XForwardedFor).unwrap();
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), &spoofed),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_address(ip("10.0.0.5"), &spoofed),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxies = TrustedProxies::new(
            &["10.0.0.0/8".into(), "192.0.2.1".into()],
            ForwardedHeader::XForwardedFor,
        )
        .unwrap();
        // The client wrote "1.2.3.4" itself; its proxy appended its real address.
        let through_two = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 192.0.2.1")]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &through_two),
            ip("203.0.113.9")
        );
        // Repeated headers read as one list.
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &split),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &HeaderMap::new()),
            ip("10.1.2.3")
        );
        // A garbled hop stops the walk at the last trusted one.
        let garbled = headers(&[("x-forwarded-for", "203.0.113.9, not-an-address")]);
        assert_eq!(
            proxies.client_address(ip("10.1.2.3"), &garbled),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_chosen_and_only_then() {
        let proxies =
            TrustedProxies::new(&["10.0.0.5".into()], ForwardedHeader::Forwarded).unwrap();
        let forwarded = headers(&[
            (
                "forwarded",
                r#"for=1.2.3.4, for="[2001:db8::17]:4711";proto=https"#,
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.5"), &forwarded),
            ip("2001:db8::17")
        );
        let port = headers(&[("forwarded", r#"for="203.0.113.9:5000""#)]);
        assert_eq!(
            proxies.client_address(ip("::ffff:10.0.0.5"), &port),
            ip("203.0.113.9")
        );
        let hidden = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(
            proxies.client_address(ip("10.0.0.5"), &hidden),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn settings_that_are_not_addresses_are_refused() {
        assert!(TrustedProxies::new(&["proxy.local".into()], ForwardedHeader::Forwarded).is_err());
        assert!("via".parse::<ForwardedHeader>().is_err());
        assert_eq!(
            "X-Forwarded-For".parse::<ForwardedHeader>(),
            Ok(ForwardedHeader::XForwardedFor)
        );
    }
}
