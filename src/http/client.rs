//! Who is asking: the peer address, unless the peer is one of the reverse proxies named in
//! `CONVENE_TRUSTED_PROXIES`, in which case the address it reports in `X-Forwarded-For`
//! (and the scheme in `X-Forwarded-Proto`). Headers from anyone else are ignored, so a
//! client cannot pretend to be someone else to the log or to the login rate limit.

use std::fmt;
use std::net::IpAddr;

use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address, when known.
    pub ip: Option<IpAddr>,
    /// Whether the client's connection was HTTPS, as a trusted proxy reports it.
    pub https: bool,
}

impl fmt::Display for ClientInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("-"),
        }
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    proxies.iter().any(|net| net.contains(&ip))
}

/// The values of every `name` header, comma-separated lists flattened, in order.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|h| h.parse().ok())
}

pub fn client_info(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> ClientInfo {
    let Some(peer) = peer else {
        return ClientInfo {
            ip: None,
            https: false,
        };
    };
    if !trusted(peer, proxies) {
        return ClientInfo {
            ip: Some(peer),
            https: false,
        };
    }
    // From the nearest hop outwards: the first address that is not one of our proxies is the
    // client. Anything left of it was written by the client itself and proves nothing.
    let mut client = peer;
    for hop in header_list(headers, "x-forwarded-for").into_iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !trusted(ip, proxies) {
                    break;
                }
            }
            None => break,
        }
    }
    // The nearest proxy appends last.
    let https = header_list(headers, "x-forwarded-proto")
        .last()
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    ClientInfo {
        ip: Some(client),
        https,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn proxies() -> Vec<IpNet> {
        vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ]
    }

    #[test]
    fn headers_from_strangers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let info = client_info(ip("198.51.100.7"), &h, &proxies());
        assert_eq!(info.ip, ip("198.51.100.7"));
        assert!(!info.https);
        // No proxies configured: nobody is believed.
        assert_eq!(client_info(ip("127.0.0.1"), &h, &[]).ip, ip("127.0.0.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ]);
        let info = client_info(ip("10.1.2.3"), &h, &proxies());
        assert_eq!(info.ip, ip("203.0.113.9"));
        assert!(info.https);
    }

    #[test]
    fn what_the_client_wrote_itself_is_skipped() {
        // The client sent "1.2.3.4" itself; our proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(
            client_info(ip("10.1.2.3"), &h, &proxies()).ip,
            ip("203.0.113.9")
        );
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_info(ip("10.1.2.3"), &split, &proxies()).ip,
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ports_brackets_and_garbage() {
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:4711")]);
        assert_eq!(
            client_info(ip("127.0.0.1"), &h, &proxies()).ip,
            ip("2001:db8::7")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.9:80")]);
        assert_eq!(
            client_info(ip("127.0.0.1"), &h, &proxies()).ip,
            ip("203.0.113.9")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-address")]);
        assert_eq!(
            client_info(ip("127.0.0.1"), &h, &proxies()).ip,
            ip("127.0.0.1")
        );
        let h = headers(&[("x-forwarded-proto", "http, https")]);
        assert!(client_info(ip("127.0.0.1"), &h, &proxies()).https);
        // An IPv4 peer seen through an IPv6 socket is still the trusted proxy.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_info(ip("::ffff:127.0.0.1"), &h, &proxies()).ip,
            ip("203.0.113.9")
        );
    }
}
