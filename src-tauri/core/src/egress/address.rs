//! What kind of address an IP is, judged by meaning rather than spelling.
//!
//! Owns [`classify`]: one answer per address, with IPv6 forms that carry an IPv4 address inside
//! (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64, 6to4, Teredo) judged by that IPv4
//! address. `Ipv6Addr::is_loopback()` is false for `::ffff:127.0.0.1`, which is why nothing here
//! relies on the standard library's predicates for those forms.
//!
//! Public is decided by exclusion: an IPv4 address outside every special range, or an IPv6
//! address inside global unicast `2000::/3` and outside every special block. Anything unknown is
//! refused rather than allowed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

/// What an address is, as far as egress is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "class")]
pub enum AddressClass {
    /// 127.0.0.0/8 and ::1 (and the IPv6 forms of 127/8).
    Loopback,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16) and IPv6 unique local fc00::/7.
    Private,
    /// Globally routable unicast.
    Public,
    /// A cloud metadata or host-agent service (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...).
    Metadata,
    /// 169.254.0.0/16 and fe80::/10.
    LinkLocal,
    /// Unspecified, multicast, broadcast, CGNAT, benchmarking, documentation, reserved, ...
    NonRoutable {
        /// Which range, for messages.
        range: &'static str,
    },
}

/// Known cloud metadata and host-agent addresses (IPv4). Several sit inside ranges that would be
/// refused anyway; 168.63.129.16 (Azure WireServer) is otherwise a public address.
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle, ...
    Ipv4Addr::new(169, 254, 169, 253), // AWS VPC DNS
    Ipv4Addr::new(169, 254, 169, 123), // AWS time sync
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(169, 254, 170, 23),  // AWS EKS pod identity agent
    Ipv4Addr::new(169, 254, 0, 23),    // Tencent Cloud
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer
];

/// Host names that only ever mean a metadata service. Checked by name as well as by address
/// because a configured proxy resolves names itself.
const METADATA_HOSTS: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "metadata.azure.internal",
];

/// Whether `host` (a DNS name, any case, with or without the trailing dot) names a metadata service.
pub fn is_metadata_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    METADATA_HOSTS.contains(&host.as_str())
}

/// Classifies an address by meaning.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Classifies an IPv4 address.
pub fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    if METADATA_V4.contains(&ip) {
        return Metadata;
    }
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_unspecified() => NonRoutable {
            range: "unspecified (0.0.0.0)",
        },
        (0, _, _) => NonRoutable {
            range: "this network (0.0.0.0/8)",
        },
        (127, _, _) => Loopback,
        (10, _, _) => Private,
        (172, 16..=31, _) => Private,
        (192, 168, _) => Private,
        (169, 254, _) => LinkLocal,
        (100, 64..=127, _) => NonRoutable {
            range: "shared address space / CGNAT (100.64.0.0/10)",
        },
        (192, 0, 0) => NonRoutable {
            range: "IETF protocol assignments (192.0.0.0/24)",
        },
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => NonRoutable {
            range: "documentation (TEST-NET)",
        },
        (192, 88, 99) => NonRoutable {
            range: "6to4 relay anycast (192.88.99.0/24)",
        },
        (198, 18..=19, _) => NonRoutable {
            range: "benchmarking (198.18.0.0/15)",
        },
        (224..=239, _, _) => NonRoutable {
            range: "multicast (224.0.0.0/4)",
        },
        _ if ip.is_broadcast() => NonRoutable {
            range: "broadcast (255.255.255.255)",
        },
        (240..=255, _, _) => NonRoutable {
            range: "reserved (240.0.0.0/4)",
        },
        _ => Public,
    }
}

/// Classifies an IPv6 address; forms that carry an IPv4 address are judged by it.
pub fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() {
        return NonRoutable {
            range: "unspecified (::)",
        };
    }
    if ip.is_loopback() {
        return Loopback;
    }
    let s = ip.segments();
    // AWS (fd00:ec2::/32: IMDS ::254, DNS ::253, NTP ::123) and GCP (fd20:ce::254).
    if (s[0] == 0xfd00 && s[1] == 0x0ec2) || ip == Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254)
    {
        return Metadata;
    }
    if let Some(v4) = embedded_ipv4(ip) {
        return classify_v4(v4);
    }
    match s[0] {
        0xff00..=0xffff => NonRoutable {
            range: "multicast (ff00::/8)",
        },
        0xfe80..=0xfebf => LinkLocal,
        0xfec0..=0xfeff => NonRoutable {
            range: "deprecated site-local (fec0::/10)",
        },
        0xfc00..=0xfdff => Private,
        0x0100 if s[1..4] == [0, 0, 0] => NonRoutable {
            range: "discard-only (100::/64)",
        },
        0x0064 if s[1] == 0xff9b => NonRoutable {
            range: "local-use NAT64 (64:ff9b:1::/48)",
        },
        0x2001 if s[1] == 0x0db8 => NonRoutable {
            range: "documentation (2001:db8::/32)",
        },
        0x3fff if s[1] <= 0x0fff => NonRoutable {
            range: "documentation (3fff::/20)",
        },
        0x2001 if s[1] == 0x0002 && s[2] == 0 => NonRoutable {
            range: "benchmarking (2001:2::/48)",
        },
        0x2001 if s[1] < 0x0200 => NonRoutable {
            range: "IETF protocol assignments (2001::/23)",
        },
        0x2000..=0x3fff => Public,
        _ => NonRoutable {
            range: "reserved (outside global unicast 2000::/3)",
        },
    }
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`), 6to4 (`2002:AABB:CCDD::/48`) and Teredo (`2001:0::/32`, whose client
/// address is the last 32 bits XOR 0xffffffff).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // ::1 and :: are handled by the caller; every other ::/96 address is IPv4-compatible.
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0, 0, 0, 0, 0, 0, _, _] => Some(low()),
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        [0x2001, 0x0000, ..] => {
            let client = ((u32::from(s[6]) << 16) | u32::from(s[7])) ^ 0xffff_ffff;
            Some(Ipv4Addr::from(client))
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        assert_eq!(c("127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("127.255.0.9"), AddressClass::Loopback);
        assert_eq!(c("10.1.2.3"), AddressClass::Private);
        assert_eq!(c("172.16.0.1"), AddressClass::Private);
        assert_eq!(c("172.31.255.255"), AddressClass::Private);
        assert_eq!(c("172.32.0.1"), AddressClass::Public);
        assert_eq!(c("192.168.1.1"), AddressClass::Private);
        assert_eq!(c("8.8.8.8"), AddressClass::Public);
        assert_eq!(c("169.254.169.254"), AddressClass::Metadata);
        assert_eq!(c("100.100.100.200"), AddressClass::Metadata);
        assert_eq!(c("168.63.129.16"), AddressClass::Metadata);
        assert_eq!(c("169.254.1.1"), AddressClass::LinkLocal);
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.88.99.1",
        ] {
            assert!(matches!(c(s), AddressClass::NonRoutable { .. }), "{s}");
        }
        assert_eq!(c("100.128.0.1"), AddressClass::Public);
        assert_eq!(c("198.20.0.1"), AddressClass::Public);
    }

    #[test]
    fn ipv6_ranges() {
        assert_eq!(c("::1"), AddressClass::Loopback);
        assert!(matches!(c("::"), AddressClass::NonRoutable { .. }));
        assert_eq!(c("fd12:3456::1"), AddressClass::Private);
        assert_eq!(c("fc00::1"), AddressClass::Private);
        assert_eq!(c("fe80::1"), AddressClass::LinkLocal);
        assert_eq!(c("fd00:ec2::254"), AddressClass::Metadata);
        assert_eq!(c("fd20:ce::254"), AddressClass::Metadata);
        assert_eq!(c("2606:4700::1111"), AddressClass::Public);
        for s in [
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "2001:2::1",
            "2001:10::1",
            "fec0::1",
            "4000::1",
            "64:ff9b:1::1",
        ] {
            assert!(matches!(c(s), AddressClass::NonRoutable { .. }), "{s}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4() {
        assert_eq!(c("::ffff:127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:7f00:1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:0:10.0.0.1"), AddressClass::Private);
        assert_eq!(c("::127.0.0.1"), AddressClass::Loopback);
        assert_eq!(c("::ffff:169.254.169.254"), AddressClass::Metadata);
        assert_eq!(c("64:ff9b::a9fe:a9fe"), AddressClass::Metadata);
        assert_eq!(c("64:ff9b::8.8.8.8"), AddressClass::Public);
        assert_eq!(c("2002:7f00:1::"), AddressClass::Loopback);
        assert_eq!(c("2002:c0a8:101::1"), AddressClass::Private);
        assert_eq!(c("2002:0808:0808::1"), AddressClass::Public);
        // Teredo: client 127.0.0.1 is stored as !0x7f000001 = 0x80ff_fffe.
        assert_eq!(
            c("2001:0:4136:e378:8000:63bf:80ff:fffe"),
            AddressClass::Loopback
        );
        // Teredo client 169.254.169.254 -> 0x5601_5601.
        assert_eq!(c("2001::5601:5601"), AddressClass::Metadata);
        // Teredo client 8.8.8.8 -> 0xf7f7_f7f7.
        assert_eq!(c("2001::f7f7:f7f7"), AddressClass::Public);
    }

    #[test]
    fn metadata_host_names() {
        assert!(is_metadata_host("metadata.google.internal"));
        assert!(is_metadata_host("Metadata.Google.Internal."));
        assert!(!is_metadata_host("api.openai.com"));
    }
}
