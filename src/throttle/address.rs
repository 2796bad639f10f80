//! The client's address: the connection's peer, or, through trusted proxies only, the right-most
//! untrusted hop of `X-Forwarded-For` or `Forwarded`.

use std::net::{IpAddr, Ipv6Addr};

use http::request::Parts;
use http::{HeaderMap, HeaderName};

use crate::{ConfigError, Error};

/// The address of the connection a request came on, for servers other than axum to put in the
/// request's extensions (axum's `ConnectInfo<SocketAddr>` is read too, with the `axum` feature).
///
/// [`LoginThrottle`](crate::LoginThrottle) reads the client address from the connection only,
/// never from a header, unless the connection comes from one of its trusted proxies.
///
/// # Examples
///
/// With hyper, set it when accepting the connection:
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use tower_session_auth::ClientAddr;
///
/// let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)); // from `TcpListener::accept`
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(ClientAddr(peer));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// Which header trusted proxies write the client's address into.
///
/// # Examples
///
/// ```
/// use tower_session_auth::{ForwardedHeader, Key, LoginThrottle};
///
/// let throttle = LoginThrottle::builder(Key::generate())
///     .trusted_proxies(["10.0.0.0/8"])
///     .forwarded_header(ForwardedHeader::Forwarded)
///     .build()?;
/// # let _ = throttle;
/// # Ok::<(), tower_session_auth::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers). The
    /// default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// A trusted proxy network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// `10.0.0.0/8`, `192.0.2.1`, `2001:db8::/32` or `::1`.
    pub(crate) fn parse(text: &str) -> Result<Network, Error> {
        let refuse = || Error::InvalidConfig(ConfigError::TrustedProxy);
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| refuse())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| refuse())?
            }
            Some(_) => return Err(refuse()),
            None => max,
        };
        if prefix > max {
            return Err(refuse());
        }
        Ok(Network { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// How many hops of a forwarding header are looked at, from the right: a bound on the work one
/// request can cause.
const MAX_HOPS: usize = 32;

/// The client address of `parts`: the peer of the connection, or, when the peer is a trusted
/// proxy, the right-most hop of the forwarding header that is not a trusted proxy. `None` when
/// the server put no address in the request.
pub(crate) fn client_ip(
    parts: &Parts,
    trusted: &[Network],
    header: ForwardedHeader,
) -> Option<IpAddr> {
    let peer = peer(parts)?.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in hops(&parts.headers, header).into_iter().take(MAX_HOPS) {
        // A hop a trusted proxy wrote that is not an address (`unknown`, an obfuscated name):
        // the last address known stands for the client.
        let Some(ip) = hop else { return Some(client) };
        client = ip.to_canonical();
        if !is_trusted(client) {
            return Some(client);
        }
    }
    Some(client)
}

fn peer(parts: &Parts) -> Option<IpAddr> {
    if let Some(ClientAddr(ip)) = parts.extensions.get::<ClientAddr>() {
        return Some(*ip);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(addr.ip());
    }
    None
}

/// The hops of the forwarding header, right-most first; `None` for a hop that is not an address.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
        ForwardedHeader::Forwarded => http::header::FORWARDED,
    };
    let mut hops = Vec::new();
    // Several header lines are one list, in order (RFC 9110 §5.3).
    for value in headers.get_all(name).iter().rev() {
        let Ok(text) = value.to_str() else {
            hops.push(None);
            return hops;
        };
        for element in text.rsplit(',') {
            if hops.len() > MAX_HOPS {
                return hops;
            }
            let node = match header {
                ForwardedHeader::XForwardedFor => Some(element),
                ForwardedHeader::Forwarded => forwarded_for(element),
            };
            hops.push(node.and_then(parse_node));
        }
    }
    hops
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http;by=203.0.113.43`).
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then_some(value)
    })
}

/// An address with or without quotes, brackets and a port: `192.0.2.1`, `192.0.2.1:8080`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let node = node
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(node);
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, _port) = rest.split_once(']')?;
        return inside.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let (host, port) = node.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// The bytes an address is counted by: an IPv4 address whole, an IPv6 address by its /64 (one
/// host or subscriber usually holds a whole /64, so counting single IPv6 addresses would give it
/// 2^64 budgets).
pub(crate) fn counted_bytes(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn request(peer: Option<&str>, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder();
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        if let Some(p) = peer {
            parts.extensions.insert(ClientAddr(p.parse().unwrap()));
        }
        parts
    }

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter().map(|n| Network::parse(n).unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn thr_04_headers_from_an_untrusted_peer_are_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        for (name, value) in [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "10.0.0.1"),
            ("forwarded", "for=1.2.3.4"),
        ] {
            let parts = request(Some("203.0.113.9"), &[(name, value)]);
            for header in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
                assert_eq!(client_ip(&parts, &trusted, header), ip("203.0.113.9"));
            }
        }
        // With no trusted proxy at all, even a loopback peer's headers are ignored.
        let parts = request(Some("127.0.0.1"), &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip(&parts, &[], ForwardedHeader::XForwardedFor),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn thr_04_right_most_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let xff = ForwardedHeader::XForwardedFor;
        // The client forged "6.6.6.6" on the left; the proxies appended what they saw.
        let parts = request(
            Some("10.0.0.2"),
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.1")],
        );
        assert_eq!(client_ip(&parts, &trusted, xff), ip("198.51.100.7"));
        // Two header lines are one list.
        let parts = request(
            Some("10.0.0.2"),
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "198.51.100.7 , 10.0.0.1"),
            ],
        );
        assert_eq!(client_ip(&parts, &trusted, xff), ip("198.51.100.7"));
        // Every hop trusted: the left-most.
        let parts = request(
            Some("10.0.0.2"),
            &[("x-forwarded-for", "10.9.9.9, 10.0.0.1")],
        );
        assert_eq!(client_ip(&parts, &trusted, xff), ip("10.9.9.9"));
        // No header from a trusted proxy: the proxy itself.
        let parts = request(Some("10.0.0.2"), &[]);
        assert_eq!(client_ip(&parts, &trusted, xff), ip("10.0.0.2"));
        // Garbage where an address should be: the last address known.
        let parts = request(Some("10.0.0.2"), &[("x-forwarded-for", "1.1.1.1, bogus")]);
        assert_eq!(client_ip(&parts, &trusted, xff), ip("10.0.0.2"));
        // IPv6 and ports.
        let parts = request(
            Some("2001:db8::5"),
            &[("x-forwarded-for", "[2001:db9::7]:443")],
        );
        assert_eq!(client_ip(&parts, &trusted, xff), ip("2001:db9::7"));
    }

    #[test]
    fn thr_04_forwarded_rfc_7239() {
        let trusted = nets(&["10.0.0.0/8"]);
        let fwd = ForwardedHeader::Forwarded;
        let parts = request(
            Some("10.0.0.2"),
            &[(
                "forwarded",
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.1;by=10.0.0.2"#,
            )],
        );
        assert_eq!(client_ip(&parts, &trusted, fwd), ip("2001:db8:cafe::17"));
        let parts = request(
            Some("10.0.0.2"),
            &[("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43")],
        );
        assert_eq!(client_ip(&parts, &trusted, fwd), ip("192.0.2.60"));
        // The header not configured is not read.
        let parts = request(Some("10.0.0.2"), &[("x-forwarded-for", "192.0.2.60")]);
        assert_eq!(client_ip(&parts, &trusted, fwd), ip("10.0.0.2"));
        let parts = request(Some("10.0.0.2"), &[("forwarded", "for=unknown")]);
        assert_eq!(client_ip(&parts, &trusted, fwd), ip("10.0.0.2"));
    }

    #[test]
    fn no_connection_address_is_none() {
        let parts = request(None, &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip(
                &parts,
                &nets(&["0.0.0.0/0"]),
                ForwardedHeader::XForwardedFor
            ),
            None
        );
    }

    #[test]
    fn networks_parse_and_match() {
        assert!(Network::parse("10.0.0.0/8")
            .unwrap()
            .contains(ip("10.255.0.1").unwrap()));
        assert!(!Network::parse("10.0.0.0/8")
            .unwrap()
            .contains(ip("11.0.0.1").unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains(ip("1.2.3.4").unwrap()));
        assert!(Network::parse("::1").unwrap().contains(ip("::1").unwrap()));
        // An IPv4-mapped peer matches an IPv4 network.
        assert!(Network::parse("127.0.0.1")
            .unwrap()
            .contains(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "example.com",
            "::/129",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        /// Any header from an untrusted peer is ignored; through a trusted proxy, any header
        /// gives an address without panicking, and never one the client wrote to the left of an
        /// untrusted hop the proxy appended.
        #[test]
        fn thr_04_any_forwarding_header(
            left in "[0-9a-f:., \\[\\]\"=;a-z]{0,80}",
            forwarded in proptest::bool::ANY,
        ) {
            let header = if forwarded {
                ForwardedHeader::Forwarded
            } else {
                ForwardedHeader::XForwardedFor
            };
            let name = if forwarded { "forwarded" } else { "x-forwarded-for" };
            let trusted = nets(&["10.0.0.0/8"]);
            if let Ok(value) = http::HeaderValue::from_str(&left) {
                let mut parts = request(Some("203.0.113.9"), &[]);
                parts.headers.insert(name, value.clone());
                proptest::prop_assert_eq!(client_ip(&parts, &trusted, header), ip("203.0.113.9"));
                // Behind the proxy, with the hop it appended after what the client wrote.
                let appended = if forwarded { "for=198.51.100.7" } else { "198.51.100.7" };
                let mut parts = request(Some("10.0.0.2"), &[]);
                parts.headers.append(name, value);
                parts.headers.append(name, http::HeaderValue::from_static(appended));
                proptest::prop_assert_eq!(client_ip(&parts, &trusted, header), ip("198.51.100.7"));
            }
        }
    }

    #[test]
    fn ipv6_is_counted_by_its_64() {
        assert_eq!(
            counted_bytes(ip("2001:db8:1:2:aaaa::1").unwrap()),
            counted_bytes(ip("2001:db8:1:2:bbbb::9").unwrap())
        );
        assert_ne!(
            counted_bytes(ip("2001:db8:1:2::1").unwrap()),
            counted_bytes(ip("2001:db8:1:3::1").unwrap())
        );
        assert_eq!(
            counted_bytes(ip("::ffff:192.0.2.1").unwrap()),
            vec![192, 0, 2, 1]
        );
    }
}
