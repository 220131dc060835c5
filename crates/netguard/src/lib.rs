//! The SSRF guard of every outbound HTTP client (callbacks, `Input.Url` fetches): requests may
//! only reach public addresses, unless an address falls inside an operator-configured allow-list. The check runs on the *resolved* addresses at connect time
//! (a DNS name cannot smuggle a private address past it, and a rebinding answer is checked
//! again on every new connection) and on IP-literal URLs before any request is made.
//!
//! Refused ranges follow Svix's list: loopback, RFC 1918, link-local (cloud metadata at
//! 169.254.169.254 and Tencent's 169.254.0.23), CGNAT (Alibaba's 100.100.100.200), multicast,
//! broadcast and reserved, documentation and benchmarking nets, IETF assignments, Azure's
//! 168.63.129.16; IPv6 loopback, ULA (AWS's fd00:ec2::254), link- and site-local, 6to4, NAT64,
//! Teredo, discard, SRv6 and IPv4-compatible forms. IPv4-mapped addresses are judged as the
//! IPv4 address they carry.

mod url_check;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;

pub use url_check::{UrlRefusal, check_url, redirect_policy, refused_in};

/// The setting named in refusals when a policy was not given another name.
const DEFAULT_SETTING: &str = "REELFLOW_CALLBACK_ALLOW_CIDRS";

/// Which destinations are allowed.
#[derive(Debug, Clone)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
    /// The operator setting that extends the allow-list, named in refusals.
    setting: &'static str,
}

impl Default for AddressPolicy {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            setting: DEFAULT_SETTING,
        }
    }
}

/// A destination that is not allowed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("destination {addr} is a non-public address ({class}); allow it with {setting}")]
pub struct RefusedAddress {
    /// The address.
    pub addr: IpAddr,
    /// Which range it is in.
    pub class: &'static str,
    /// The setting that would allow it.
    pub setting: &'static str,
}

/// An unparsable CIDR in the allow-list.
#[derive(Debug, thiserror::Error)]
#[error("invalid CIDR {0:?} in the address allow-list")]
pub struct CidrError(pub String);

impl AddressPolicy {
    /// Parses a comma-separated CIDR list (`127.0.0.0/8,10.0.0.0/8`); bare IPs mean one host.
    pub fn parse(list: &str) -> Result<Self, CidrError> {
        let allow = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| CidrError(s.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allow,
            setting: DEFAULT_SETTING,
        })
    }

    /// The same policy, naming `setting` (an environment variable) in its refusals.
    pub fn named(mut self, setting: &'static str) -> Self {
        self.setting = setting;
        self
    }

    /// Whether nothing beyond public addresses is allowed.
    pub fn is_public_only(&self) -> bool {
        self.allow.is_empty()
    }

    /// Ok when `addr` may be contacted.
    pub fn check(&self, addr: IpAddr) -> Result<(), RefusedAddress> {
        let addr = canonical(addr);
        match non_public_class(addr) {
            Some(class) if !self.allow.iter().any(|net| net.contains(&addr)) => {
                Err(RefusedAddress {
                    addr,
                    class,
                    setting: self.setting,
                })
            }
            _ => Ok(()),
        }
    }
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The special-purpose range `addr` belongs to, if any.
pub fn non_public_class(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let class = if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local or cloud metadata"
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        "carrier-grade NAT"
    } else if ip.is_multicast() {
        "multicast"
    } else if o[0] == 0 {
        "unspecified"
    } else if ip.is_broadcast() || o[0] >= 240 {
        "reserved"
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) {
        "documentation or benchmarking"
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        "IETF protocol assignments"
    } else if o[..3] == [192, 88, 99] {
        "6to4 relay anycast"
    } else if o == [168, 63, 129, 16] {
        "cloud metadata (Azure WireServer)"
    } else {
        return None;
    };
    Some(class)
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let class = if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_multicast() {
        "multicast"
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "unique local or cloud metadata"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "link-local"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "site-local"
    } else if s[0] == 0x2002 {
        "6to4"
    } else if s[0] == 0x64 && s[1] == 0xff9b {
        "NAT64"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "documentation"
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)"
    } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
        "discard"
    } else if s[0] == 0x5f00 {
        "SRv6"
    } else if s[..6] == [0; 6] {
        "IPv4-compatible (deprecated)"
    } else {
        return None;
    };
    Some(class)
}

/// A reqwest resolver that drops refused addresses after DNS; when every address is refused the
/// connection fails with a [`RefusedAddress`] in its error chain (see [`refused_in`]).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    /// A resolver applying `policy`.
    pub fn new(policy: Arc<AddressPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refused = Some(e);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(e)) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_special_ranges_unless_allowed() {
        let none = AddressPolicy::default();
        for bad in [
            "127.0.0.1",
            "10.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "2002::1",
            "64:ff9b::1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "fd00:ec2::254",
            "fec0::1",
            "2001::1",
            "5f00::1",
            "100.100.100.200",
            "168.63.129.16",
            "::ffff:169.254.169.254",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "2001:db8::1",
        ] {
            assert!(none.check(bad.parse().unwrap()).is_err(), "{bad}");
        }
        assert!(none.check("93.184.216.34".parse().unwrap()).is_ok());
        assert!(none.check("2606:4700::1111".parse().unwrap()).is_ok());
        let loopback = AddressPolicy::parse("127.0.0.0/8, ::1").unwrap();
        assert!(loopback.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(loopback.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(loopback.check("::1".parse().unwrap()).is_ok());
        assert!(loopback.check("10.0.0.1".parse().unwrap()).is_err());
        assert!(AddressPolicy::parse("nope").is_err());
        let named = AddressPolicy::default().named("REELFLOW_FETCH_ALLOW_CIDRS");
        let refused = named.check("10.1.2.3".parse().unwrap()).unwrap_err();
        assert!(
            refused.to_string().contains("REELFLOW_FETCH_ALLOW_CIDRS"),
            "{refused}"
        );
    }
}
