//! Which targets a webhook may reach (SSRF). A target is an http(s) URL without
//! credentials whose host is not, and does not resolve to, an address of the IANA
//! special-purpose registries (loopback, private, link-local with the cloud metadata
//! service, documentation, benchmarking, multicast, reserved, ...), nor an IPv6 form that
//! leads to one (IPv4-mapped, IPv4-compatible, 6to4, NAT64, Teredo).
//!
//! The check runs twice with the same rules: when a webhook is registered
//! ([`check_target`]), and when a delivery connects, through [`GuardedResolver`], the
//! delivery client's DNS resolver. A host name that resolved to a public address at
//! registration and to `127.0.0.1` at delivery (DNS rebinding) is refused at connect,
//! because the addresses checked are the addresses connected to. Literal IP hosts never
//! reach a resolver and are checked from the URL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long a target's host may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// IPv4 networks no webhook may reach: the IANA IPv4 special-purpose address registry,
/// multicast (224.0.0.0/4) and the reserved 240.0.0.0/4 with the broadcast address.
const FORBIDDEN_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // shared address space (carrier-grade NAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 31, 196, 0), 24), // AS112-v4
    (Ipv4Addr::new(192, 52, 193, 0), 24), // AMT
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(192, 175, 48, 0), 24), // direct delegation AS112
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, and 255.255.255.255 broadcast
];

/// What an IPv6 special-purpose network means for a webhook.
#[derive(Debug, Clone, Copy)]
enum V6 {
    /// Never reachable.
    Forbidden,
    /// Carries an IPv4 address in its last 32 bits (IPv4-mapped, IPv4-compatible): as
    /// forbidden as that address.
    EmbedsV4,
    /// 6to4: carries an IPv4 address in bits 16 to 48.
    Embeds6to4,
}

/// IPv6 networks with a meaning for webhooks, most specific first: the IANA IPv6
/// special-purpose address registry, site-local and multicast. NAT64 prefixes are
/// forbidden outright: a NAT64 gateway turns `64:ff9b::a9fe:a9fe` into 169.254.169.254.
const SPECIAL_V6: &[(Ipv6Addr, u8, V6)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, V6::Forbidden),
    (Ipv6Addr::LOCALHOST, 128, V6::Forbidden),
    // IPv4-mapped, IPv4-compatible
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, V6::EmbedsV4),
    (Ipv6Addr::UNSPECIFIED, 96, V6::EmbedsV4),
    // NAT64, well-known and local-use
    (high(0x64, 0xff9b, 0), 96, V6::Forbidden),
    (high(0x64, 0xff9b, 1), 48, V6::Forbidden),
    // discard-only
    (high(0x100, 0, 0), 64, V6::Forbidden),
    // documentation; IETF protocol assignments with Teredo (2001::/32) and benchmarking
    (high(0x2001, 0xdb8, 0), 32, V6::Forbidden),
    (high(0x2001, 0, 0), 23, V6::Forbidden),
    // 6to4
    (high(0x2002, 0, 0), 16, V6::Embeds6to4),
    // direct delegation AS112
    (high(0x2620, 0x4f, 0x8000), 48, V6::Forbidden),
    // documentation, SRv6 SIDs
    (high(0x3fff, 0, 0), 20, V6::Forbidden),
    (high(0x5f00, 0, 0), 16, V6::Forbidden),
    // unique local, link-local, site-local, multicast
    (high(0xfc00, 0, 0), 7, V6::Forbidden),
    (high(0xfe80, 0, 0), 10, V6::Forbidden),
    (high(0xfec0, 0, 0), 10, V6::Forbidden),
    (high(0xff00, 0, 0), 8, V6::Forbidden),
];

/// The IPv6 network whose first three groups are these.
const fn high(a: u16, b: u16, c: u16) -> Ipv6Addr {
    Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0)
}

fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// Whether `ip` is an address a webhook may not reach (see the module's rules).
pub fn forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => FORBIDDEN_V4.iter().any(|net| in_v4(v4, *net)),
        IpAddr::V6(v6) => {
            let Some((_, _, rule)) = SPECIAL_V6
                .iter()
                .find(|(net, len, _)| in_v6(v6, *net, *len))
            else {
                return false;
            };
            let bits = u128::from(v6);
            match rule {
                V6::Forbidden => true,
                // Truncation keeps exactly the embedded address's bits.
                V6::EmbedsV4 => forbidden_address(IpAddr::V4(Ipv4Addr::from(bits as u32))),
                V6::Embeds6to4 => {
                    forbidden_address(IpAddr::V4(Ipv4Addr::from((bits >> 80) as u32)))
                }
            }
        }
    }
}

/// Why a target is refused; the text completes "the target ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn inside() -> Refused {
    Refused(
        "points at a loopback, private, link-local, metadata or other special-purpose address, which webhooks may not reach"
            .to_owned(),
    )
}

/// The addresses of `host` (a name, or a literal IP address), every one of them allowed,
/// or why not. Private addresses pass when `allow_private` is set.
pub async fn resolve(host: &str, allow_private: bool) -> Result<Vec<IpAddr>, Refused> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
            .await
            .map_err(|_| Refused("its host does not resolve in time".to_owned()))?
            .map_err(|_| Refused("its host does not resolve".to_owned()))?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(Refused("its host does not resolve".to_owned()));
    }
    if !allow_private && addresses.iter().any(|ip| forbidden_address(*ip)) {
        return Err(inside());
    }
    Ok(addresses)
}

/// Checks what the URL alone says: http(s), no credentials, a host, and — for a literal IP
/// address — an allowed one. Answers the host.
pub fn check_url(url: &str, allow_private: bool) -> Result<String, Refused> {
    let parsed = url::Url::parse(url).map_err(|_| Refused("is not a URL".to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refused("must be an http:// or https:// URL".to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused("must not carry credentials".to_owned()));
    }
    let host = match parsed.host() {
        None => return Err(Refused("must have a host".to_owned())),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).to_string(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).to_string(),
        Some(url::Host::Domain(name)) => return Ok(name.to_owned()),
    };
    if let Ok(ip) = host.parse::<IpAddr>()
        && !allow_private
        && forbidden_address(ip)
    {
        return Err(inside());
    }
    Ok(host)
}

/// Checks a target URL at registration: [`check_url`], and every address its host
/// resolves to now.
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let host = check_url(url, allow_private).map_err(|r| r.0)?;
    if allow_private {
        return Ok(());
    }
    resolve(&host, allow_private)
        .await
        .map(|_| ())
        .map_err(|r| r.0)
}

/// The delivery client's DNS resolver: it answers a host's addresses only when every one
/// of them is allowed, so that what was checked is what is connected to.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Let private addresses through (tests, local development).
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses = resolve(name.as_str(), allow_private).await?;
            // The connector puts the URL's port in.
            let addrs: reqwest::dns::Addrs =
                Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The refusal inside a delivery client's error, if the resolver refused the target.
pub fn refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range of the registries, by a member of it, and public addresses beside them.
    #[test]
    fn special_purpose_addresses_are_forbidden_and_public_ones_allowed() {
        let forbidden = [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.9",
            "192.0.0.170",
            "192.0.2.1",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.168.1.1",
            "192.175.48.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:0:4136:e378::1",
            "2001:2::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2620:4f:8000::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
        ];
        for ip in forbidden {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(forbidden_address(parsed), "{ip} must be forbidden");
        }
        let allowed = [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "203.0.114.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "2002:808:808::1",
            "2001:200::1",
            "3fff:1000::1",
            "fbff::1",
        ];
        for ip in allowed {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(!forbidden_address(parsed), "{ip} must be allowed");
        }
    }

    #[test]
    fn literal_addresses_in_urls_are_checked_in_every_notation() {
        for url in [
            "http://[::127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::169.254.169.254]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[fe80::1%25eth0]/",
        ] {
            if let Ok(host) = check_url(url, false) {
                // A host the URL parser did not take as an address is a name; names are
                // checked by resolving them.
                assert!(host.parse::<IpAddr>().is_err(), "{url} passed as {host}");
            }
        }
        assert_eq!(
            check_url("https://example.org/hook", false),
            Ok("example.org".to_owned())
        );
        assert!(
            check_url("http://[::1]/", true).is_ok(),
            "private allowed when configured"
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_inside_unless_private_is_allowed() {
        let refused = resolve("localhost", false).await;
        assert_eq!(refused.map_err(|r| r.0.contains("loopback")), Err(true));
        let allowed = resolve("localhost", true)
            .await
            .expect("localhost resolves");
        assert!(allowed.iter().all(|ip| ip.is_loopback()), "{allowed:?}");
    }
}
