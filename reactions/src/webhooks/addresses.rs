//! Where webhooks may go: public unicast addresses only, unless `ZIPPCRM_WEBHOOK_ALLOW`
//! names the address.
//!
//! The rule is the IANA special-purpose address registries (IPv4 and IPv6), written once
//! below as data: every range in them is refused, and so is every IPv6 address outside
//! global unicast (`2000::/3`: site-local, unique-local, multicast, the reserved `::/8`
//! with its deprecated IPv4-compatible form). The IPv6 forms that carry an IPv4 address
//! and deliver to it (IPv4-mapped, the NAT64 well-known prefix, 6to4) are decided on the
//! IPv4 address they carry, so `[::ffff:127.0.0.1]`, `[64:ff9b::7f00:1]` and
//! `[2002:7f00:1::1]` are loopback, while a NAT64 address of a public host (the only way
//! out of an IPv6-only network) passes. The check runs at registration and again on the
//! addresses a name resolves to at every connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

use anyhow::{bail, Context, Result};
use ipnet::{IpNet, Ipv6Net};

/// The IANA IPv4 Special-Purpose Address Registry, with the multicast block and the
/// reserved block (which holds the limited broadcast address) beside it.
const IPV4_SPECIAL: &[(&str, &str)] = &[
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private-use"),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private-use"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation (TEST-NET-1)"),
    ("192.31.196.0/24", "AS112-v4"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
    ("192.168.0.0/16", "private-use"),
    ("192.175.48.0/24", "direct delegation AS112 service"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation (TEST-NET-2)"),
    ("203.0.113.0/24", "documentation (TEST-NET-3)"),
    ("224.0.0.0/4", "multicast"),
    (
        "240.0.0.0/4",
        "reserved (and the limited broadcast address)",
    ),
];

/// The IANA IPv6 Special-Purpose Address Registry, with the blocks outside global unicast
/// named where they have a name (anything else outside `2000::/3` is refused as such).
const IPV6_SPECIAL: &[(&str, &str)] = &[
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("::ffff:0:0:0/96", "IPv4-translated"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("100:0:0:1::/64", "dummy IPv6 prefix"),
    ("2001::/23", "IETF protocol assignments (Teredo among them)"),
    ("2001:db8::/32", "documentation"),
    ("2620:4f:8000::/48", "direct delegation AS112 service"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
];

/// IPv6 global unicast (`2000::/3`): the only IPv6 block webhooks may go to.
const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

fn table(entries: &'static [(&str, &'static str)]) -> Vec<(IpNet, &'static str)> {
    entries
        .iter()
        .map(|(net, name)| {
            let net = net.parse().unwrap_or_else(|_| panic!("{net} is a range"));
            (net, *name)
        })
        .collect()
}

static SPECIAL: LazyLock<Vec<(IpNet, &'static str)>> = LazyLock::new(|| {
    let mut all = table(IPV4_SPECIAL);
    all.extend(table(IPV6_SPECIAL));
    // Most specific first, so an address is named by the smallest range holding it.
    all.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
    all
});

/// An IPv6 form that carries an IPv4 address and delivers to it: the address and the
/// form's name.
fn carried_ipv4(v6: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let bits = u128::from(v6);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some((v4, "IPv4-mapped"));
    }
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some((low, "NAT64"));
    }
    if bits >> 112 == 0x2002 {
        return Some((Ipv4Addr::from((bits >> 80) as u32), "6to4"));
    }
    None
}

/// Why `ip` may not receive webhooks (the special-purpose range it is in), or `None` for
/// a public unicast address.
pub(super) fn special_purpose(ip: IpAddr) -> Option<String> {
    if let IpAddr::V6(v6) = ip {
        if let Some((v4, form)) = carried_ipv4(v6) {
            return special_purpose(IpAddr::V4(v4)).map(|why| format!("{why} ({form} {v4})"));
        }
    }
    if let Some((_, name)) = SPECIAL.iter().find(|(net, _)| net.contains(&ip)) {
        return Some((*name).to_owned());
    }
    match ip {
        IpAddr::V6(v6) if !GLOBAL_UNICAST.contains(&v6) => {
            Some("outside IPv6 global unicast (2000::/3)".to_owned())
        }
        _ => None,
    }
}

/// Which addresses requests may go to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Special-purpose addresses allowed all the same (`ZIPPCRM_WEBHOOK_ALLOW`).
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    fn allows(&self, ip: IpAddr) -> bool {
        let carried = match ip {
            IpAddr::V6(v6) => carried_ipv4(v6).map(|(v4, _)| IpAddr::V4(v4)),
            IpAddr::V4(_) => None,
        };
        self.allow
            .iter()
            .any(|net| net.contains(&ip) || carried.is_some_and(|v4| net.contains(&v4)))
    }

    /// Refuses a special-purpose address that is not allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match special_purpose(ip) {
            Some(why) if !self.allows(ip) => Err(format!(
                "{ip} is a special-purpose address ({why}): webhooks go to public addresses only, unless ZIPPCRM_WEBHOOK_ALLOW names it"
            )),
            _ => Ok(()),
        }
    }

    /// Resolves `host` and checks every address it has (an IP literal is checked as it is).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match literal.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("{host} does not resolve: {e}"))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        for addr in &addrs {
            self.check(addr.ip())?;
        }
        Ok(addrs)
    }

    /// Checks the host of `url`, as registration does.
    pub async fn check_url(&self, url: &str) -> Result<(), String> {
        let url = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("the URL names no host")?;
        let port = url.port_or_known_default().unwrap_or(443);
        self.resolve(host, port).await.map(|_| ())
    }
}

/// Parses `ZIPPCRM_WEBHOOK_ALLOW`: comma-separated addresses (`127.0.0.1`, `::1`) and CIDR
/// ranges (`10.0.0.0/8`).
pub fn parse_allow(text: &str) -> Result<Vec<IpNet>> {
    let ranges: Vec<IpNet> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            entry
                .parse::<IpNet>()
                .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("'{entry}' is not an IP address or CIDR range"))
        })
        .collect::<Result<_>>()?;
    if ranges.is_empty() {
        bail!("no address given");
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &AddressPolicy, ip: &str) -> bool {
        policy.check(ip.parse().expect("address")).is_err()
    }

    /// The first and last address of a range.
    fn ends(net: IpNet) -> [IpAddr; 2] {
        [net.network(), net.broadcast()]
    }

    #[test]
    fn every_range_of_the_registries_is_refused_in_every_form_that_carries_it() {
        let policy = AddressPolicy::default();
        for (net, name) in table(IPV4_SPECIAL) {
            for ip in ends(net) {
                let IpAddr::V4(v4) = ip else { unreachable!() };
                let bits = u32::from(v4);
                let forms = [
                    ip.to_string(),
                    v4.to_ipv6_mapped().to_string(),
                    Ipv6Addr::from(0x0064_ff9b_u128 << 96 | u128::from(bits)).to_string(),
                    Ipv6Addr::from(0x2002_u128 << 112 | u128::from(bits) << 80 | 1).to_string(),
                    v4.to_ipv6_compatible().to_string(),
                ];
                for form in forms {
                    assert!(refused(&policy, &form), "{form} ({name}, {net})");
                }
            }
        }
        for (net, name) in table(IPV6_SPECIAL) {
            for ip in ends(net) {
                assert!(policy.check(ip).is_err(), "{ip} ({name}, {net})");
            }
        }
    }

    #[test]
    fn the_forms_the_probe_found_are_refused() {
        let policy = AddressPolicy::default();
        for ip in [
            "::127.0.0.1",
            "::169.254.169.254",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "fec0::1",
            "198.18.0.1",
            "240.0.0.1",
            "::ffff:127.0.0.1",
            "2001::1",
            "4000::1",
        ] {
            assert!(refused(&policy, ip), "{ip}");
        }
    }

    #[test]
    fn public_unicast_passes_also_through_nat64_and_6to4() {
        let policy = AddressPolicy::default();
        for ip in [
            "93.184.216.34",
            "172.32.0.1",
            "192.0.3.1",
            "223.255.255.255",
            "2606:4700::1111",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
            "::ffff:93.184.216.34",
        ] {
            assert!(!refused(&policy, ip), "{ip}");
        }
    }

    #[test]
    fn the_allow_list_admits_what_it_names_in_any_form() {
        let allowed = AddressPolicy {
            allow: parse_allow("127.0.0.1, 10.0.0.0/8, ::1").expect("ranges"),
        };
        for ip in [
            "127.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "10.200.0.9",
            "::1",
        ] {
            assert!(!refused(&allowed, ip), "{ip}");
        }
        assert!(refused(&allowed, "127.0.0.2"));
        assert!(refused(&allowed, "169.254.169.254"));
        assert!(parse_allow("10.0.0.0/33").is_err());
        assert!(parse_allow("localhost").is_err());
        assert!(parse_allow(" , ").is_err());
    }
}
