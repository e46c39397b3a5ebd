//! Which echo server the relay may call.
//!
//! A target is a host and a port, nothing else: no scheme, path, query or user name.
//! That stops a caller from smuggling a path such as `/ready?readiness=false`.
//! Link-local and cloud metadata addresses are refused always: here for names and
//! address literals, and again after DNS in the client (see `client.rs`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower case, with its trailing dot if it had one.
    Name(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

/// A checked target: the host and port of an echo server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub host: Host,
    pub port: u16,
    /// `HOST:PORT` as [`fmt::Display`] writes it, made once: a relay call uses it twice.
    shown: Box<str>,
}

/// Why a target was not accepted. Each variant reads as one plain sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The text is not a plain `HOST:PORT`. The text says why.
    Malformed(&'static str),
    /// The address is link-local or a cloud metadata service.
    Refused(String),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Malformed(why) => f.write_str(why),
            TargetError::Refused(what) => write!(
                f,
                "{what} is a link-local or cloud metadata address. The relay never calls it."
            ),
        }
    }
}

impl std::error::Error for TargetError {}

/// Names of cloud metadata services. The relay never calls them.
const METADATA_NAMES: &[&str] = &[
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.com",
    "instance-data",
    "instance-data.ec2.internal",
];

// ANCHOR: target_check
/// Reads `HOST:PORT`. HOST is a DNS name, an IPv4 address or an IPv6 address in brackets.
pub fn parse(text: &str) -> Result<Target, TargetError> {
    check_characters(text)?;
    let (host, port) = split_host_port(text)?;
    let target = Target::new(host, parse_port(port)?);
    // Never call link-local or cloud metadata addresses.
    let forbidden = match &target.host {
        Host::Ip(ip) => is_forbidden_ip(*ip),
        Host::Name(name) => METADATA_NAMES.contains(&name.trim_end_matches('.')),
    };
    if forbidden {
        return Err(TargetError::Refused(target.host.to_string()));
    }
    Ok(target)
}

/// True for addresses the relay never calls: link-local and cloud metadata.
/// An IPv6 address that carries an IPv4 address is judged by the IPv4 address inside.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS metadata
                || embedded_v4(v6).into_iter().flatten().any(is_forbidden_v4)
        }
    }
}

/// The IPv4 addresses an IPv6 address may carry, in every form that routes to one.
fn embedded_v4(v6: Ipv6Addr) -> [Option<Ipv4Addr>; 4] {
    let b = v6.octets();
    let v4 = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
    let at = |i: [usize; 4]| Ipv4Addr::new(b[i[0]], b[i[1]], b[i[2]], b[i[3]]);
    let s = v6.segments();
    match s {
        // ::a.b.c.d (compatible), ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated),
        // 64:ff9b::a.b.c.d (NAT64, RFC 6052)
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => [Some(v4(12)), None, None, None],
        // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): the network picks a prefix of 48 to 96
        // bits, so the IPv4 address may sit in any of the places RFC 6052 allows.
        [0x64, 0xff9b, 1, ..] => [
            Some(at([6, 7, 9, 10])),
            Some(at([7, 9, 10, 11])),
            Some(v4(9)),
            Some(v4(12)),
        ],
        // 2002:a.b.c.d::/48, 6to4 (RFC 3056)
        [0x2002, ..] => [Some(v4(2)), None, None, None],
        // 2001:0:SERVER::/32, Teredo (RFC 4380): the client's address is stored inverted.
        [0x2001, 0, ..] => [Some(!v4(12)), Some(v4(4)), None, None],
        _ => [None; 4],
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    ip.is_link_local() // 169.254.0.0/16, holds 169.254.169.254
        || ip == Ipv4Addr::new(100, 100, 100, 200) // Alibaba Cloud metadata
        || ip == Ipv4Addr::new(168, 63, 129, 16) // Azure platform address
}
// ANCHOR_END: target_check

/// Refuses empty text, a scheme, and any character of a path, query, fragment or user name.
fn check_characters(text: &str) -> Result<(), TargetError> {
    use TargetError::Malformed;
    if text.is_empty() {
        return Err(Malformed(
            "echo_server is empty. Give it as HOST:PORT, like echo:8080.",
        ));
    }
    if text.contains("://") {
        return Err(Malformed(
            "echo_server must not start with http://. Give only HOST:PORT.",
        ));
    }
    if text.contains(['/', '?', '#', '@', '%', '\\']) || text.contains(char::is_whitespace) {
        return Err(Malformed(
            "echo_server may hold only HOST:PORT, with no path or other parts.",
        ));
    }
    Ok(())
}

/// Splits `HOST:PORT` or `[IPv6]:PORT` and reads the host.
fn split_host_port(text: &str) -> Result<(Host, &str), TargetError> {
    use TargetError::Malformed;
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:").ok_or(Malformed(
            "echo_server needs a port after the IPv6 address, like [::1]:8080.",
        ))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| Malformed("The address in [ ] is not IPv6."))?;
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or(Malformed("echo_server needs a port, like echo:8080."))?;
    if host.contains(':') {
        return Err(Malformed(
            "Put an IPv6 address in brackets, like [::1]:8080.",
        ));
    }
    Ok((parse_host(host)?, port))
}

fn parse_port(port: &str) -> Result<u16, TargetError> {
    let bad = TargetError::Malformed("The port must be a number from 1 to 65535.");
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad),
        Ok(p) => Ok(p),
    }
}

fn parse_host(host: &str) -> Result<Host, TargetError> {
    use TargetError::Malformed;
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    // A trailing dot marks a full name: the resolver then skips the search domains.
    let full = host.to_ascii_lowercase();
    let name = full.strip_suffix('.').unwrap_or(&full);
    if name.is_empty() || name.len() > 253 {
        return Err(Malformed("echo_server needs a host name before the port."));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        return Err(Malformed(
            "The host name may hold only letters, digits, dots and dashes.",
        ));
    }
    // The system resolver reads names like `2852039166` or `0x7f.1` as addresses.
    // Only a plain dotted IPv4 address may end with a number.
    let last = name.rsplit('.').next().unwrap_or_default();
    if last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x") {
        return Err(Malformed(
            "Write an IPv4 address as four numbers, like 10.0.0.7.",
        ));
    }
    Ok(Host::Name(full))
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

impl Target {
    fn new(host: Host, port: u16) -> Target {
        let shown = format!("{host}:{port}").into_boxed_str();
        Target { host, port, shown }
    }

    /// `HOST:PORT`, the same form `parse` reads, with IPv6 in brackets.
    pub fn as_str(&self) -> &str {
        &self.shown
    }

    /// True for the same host and port; `echo.` and `echo` count as the same name.
    pub fn same_as(&self, other: &Target) -> bool {
        let bare = |t: &Target| match &t.host {
            Host::Name(name) => Host::Name(name.trim_end_matches('.').to_owned()),
            ip => ip.clone(),
        };
        self.port == other.port && bare(self) == bare(other)
    }
}

/// Writes `HOST:PORT`, the same form `parse` reads, with IPv6 in brackets.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Reads a comma list of `HOST:PORT`, as given to `--allowed-echo-servers`.
pub fn parse_list(text: &str) -> Result<Vec<Target>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| parse(item).map_err(|e| format!("{item}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .to_string()
    }

    fn malformed(text: &str) {
        assert!(
            matches!(parse(text), Err(TargetError::Malformed(_))),
            "{text} should be malformed, got {:?}",
            parse(text)
        );
    }

    fn refused(text: &str) {
        assert!(
            matches!(parse(text), Err(TargetError::Refused(_))),
            "{text} should be refused, got {:?}",
            parse(text)
        );
    }

    #[test]
    fn accepts_names_and_addresses() {
        assert_eq!(ok("echo:8080"), "echo:8080");
        assert_eq!(ok("echo.my-space:8080"), "echo.my-space:8080");
        assert_eq!(
            ok("Echo.My-Space.svc.cluster.local.:8080"),
            "echo.my-space.svc.cluster.local.:8080"
        );
        assert_eq!(ok("localhost:1"), "localhost:1");
        assert_eq!(ok("10.244.0.7:65535"), "10.244.0.7:65535");
        assert_eq!(ok("[::1]:8080"), "[::1]:8080");
        assert_eq!(ok("[FD00::7]:80"), "[fd00::7]:80");
        assert_eq!(ok("3com.example:80"), "3com.example:80");
    }

    #[test]
    fn refuses_other_parts() {
        for text in [
            "",
            "echo",
            "echo:",
            ":8080",
            "echo:0",
            "echo:65536",
            "echo:+80",
            "echo:8080/ready?readiness=false&",
            "echo:8080?x=1",
            "echo:8080#x",
            "user@echo:8080",
            "http://echo:8080",
            "echo:8080 ",
            "ec ho:8080",
            "ec%68o:8080",
            "::1:8080",
            "[::1]",
            "[::1]8080",
            "[echo]:8080",
            "[::1%eth0]:8080",
            "-echo:8080",
            "echo-:8080",
            "ech_o:8080",
            "a..b:8080",
            "2852039166:80",
            "0x7f.1:80",
            "127.1:80",
            "1.2.3.4.5:80",
            "échö:80",
        ] {
            malformed(text);
        }
        malformed(&format!("{}:80", "a".repeat(64)));
        malformed(&format!("{}:80", ["a"; 128].join(".")));
    }

    #[test]
    fn refuses_link_local_and_metadata() {
        for text in [
            "169.254.169.254:80",
            "169.254.0.1:8080",
            "100.100.100.200:80",
            "[fe80::1]:80",
            "[febf::1]:80",
            "[fd00:ec2::254]:80",
            "[::ffff:169.254.169.254]:80",
            "[64:ff9b::a9fe:a9fe]:80",
            "[::169.254.169.254]:80",
            "[::ffff:0:a9fe:a9fe]:80",
            "[64:ff9b:1:a9fe:a9:fe00::]:80",
            "[2002:a9fe:a9fe::]:80",
            "[2001:0:4136:e378:8000:63bf:5601:5601]:80",
            "metadata.google.internal:80",
            "METADATA.google.internal.:80",
            "metadata:80",
        ] {
            refused(text);
        }
        assert_eq!(
            parse("169.254.169.254:80").unwrap_err().to_string(),
            "169.254.169.254 is a link-local or cloud metadata address. The relay never calls it."
        );
    }

    #[test]
    fn forbidden_ip_edges() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(!is_forbidden_ip(ip("169.253.255.255")));
        assert!(!is_forbidden_ip(ip("169.255.0.0")));
        assert!(!is_forbidden_ip(ip("fec0::1")));
        assert!(!is_forbidden_ip(ip("127.0.0.1")));
        assert!(!is_forbidden_ip(ip("::1")));
        assert!(is_forbidden_ip(ip("fe80::")));
    }

    #[test]
    fn a_trailing_dot_names_the_same_host() {
        let full = parse("echo.my-space.:8080").unwrap();
        assert!(full.same_as(&parse("ECHO.my-space:8080").unwrap()));
        assert!(!full.same_as(&parse("echo.my-space:8081").unwrap()));
        assert!(!full.same_as(&parse("echo:8080").unwrap()));
        assert!(parse("[::1]:80")
            .unwrap()
            .same_as(&parse("[0::1]:80").unwrap()));
    }

    #[test]
    fn reads_allow_lists() {
        let list = parse_list(" echo:8080, [::1]:80 ,,").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].to_string(), "[::1]:80");
        let err = parse_list("echo:8080,echo/x:80").unwrap_err();
        assert!(err.starts_with("echo/x:80: "), "{err}");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = Target> {
        let name = "[a-z]([a-z0-9-]{0,20}[a-z0-9])?(\\.[a-z]([a-z0-9-]{0,8}[a-z0-9])?){0,4}"
            .prop_map(Host::Name);
        let ip = any::<IpAddr>().prop_map(Host::Ip);
        (prop_oneof![name, ip], 1..=u16::MAX).prop_map(|(host, port)| Target::new(host, port))
    }

    /// Any IPv4 address, with the forbidden ones often enough to matter.
    fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![
            any::<u32>().prop_map(Ipv4Addr::from),
            any::<u16>().prop_map(|n| Ipv4Addr::from(0xa9fe_0000 | u32::from(n))),
            Just(Ipv4Addr::new(100, 100, 100, 200)),
            Just(Ipv4Addr::new(168, 63, 129, 16)),
        ]
    }

    fn hi_lo(hi: u8, lo: u8) -> u16 {
        (u16::from(hi) << 8) | u16::from(lo)
    }

    proptest! {
        #[test]
        fn any_text_is_parsed_or_refused_without_panic(text in "\\PC{0,40}") {
            if let Ok(t) = parse(&text) {
                let shown = t.to_string();
                prop_assert!(!shown.contains(['/', '?', '#', '@', '%', ' ']), "{}", shown);
                prop_assert_eq!(parse(&shown), Ok(t));
            }
        }

        #[test]
        fn smuggled_parts_are_always_refused(t in target(), tail in "[/?#@%][ -~]{0,20}") {
            let text = format!("{t}{tail}");
            prop_assert!(matches!(parse(&text), Err(TargetError::Malformed(_))), "{}", text);
        }

        #[test]
        fn every_ipv6_form_is_judged_by_its_ipv4_address(
            v4 in ipv4(),
            (free, teredo_server) in (any::<u16>(), any::<u32>()),
        ) {
            let forbidden = is_forbidden_v4(v4);
            let n = u32::from(v4);
            let (hi, lo) = ((n >> 16) as u16, n as u16);
            let b = v4.octets();
            let local_use_forms = [
                // 64:ff9b:1::/48 with a /48, /56, /64 and /96 network prefix (RFC 6052)
                [0x64, 0xff9b, 1, hi, u16::from(b[2]), (u16::from(b[3]) << 8), 0, 0],
                [0x64, 0xff9b, 1, free & 0xff00 | u16::from(b[0]), u16::from(b[1]), hi_lo(b[2], b[3]), 0, 0],
                [0x64, 0xff9b, 1, free, u16::from(b[0]), hi_lo(b[1], b[2]), u16::from(b[3]) << 8, 0],
                [0x64, 0xff9b, 1, free, 0, 0, hi, lo],
            ];
            let t = !n;
            let forms = [
                ("mapped", [0, 0, 0, 0, 0, 0xffff, hi, lo]),
                ("compatible", [0, 0, 0, 0, 0, 0, hi, lo]),
                ("translated", [0, 0, 0, 0, 0xffff, 0, hi, lo]),
                ("NAT64", [0x64, 0xff9b, 0, 0, 0, 0, hi, lo]),
                ("6to4", [0x2002, hi, lo, free, 0, 0, 0, 1]),
                ("Teredo client", [0x2001, 0, 0x4136, 0xe378, 0x8000, free, (t >> 16) as u16, t as u16]),
            ];
            for (name, s) in forms {
                let v6 = Ipv6Addr::from(s);
                prop_assert_eq!(is_forbidden_ip(IpAddr::V6(v6)), forbidden, "{} {} carries {}", name, v6, v4);
            }
            // The prefix length of a local-use network is unknown, so every place is checked:
            // a forbidden address is refused wherever it sits. (A harmless address may be
            // refused too, when another place reads as a forbidden one.)
            for s in local_use_forms {
                let v6 = Ipv6Addr::from(s);
                prop_assert!(!forbidden || is_forbidden_ip(IpAddr::V6(v6)), "local-use NAT64 {} carries {}", v6, v4);
            }
            // A Teredo server address that is forbidden makes the address forbidden too.
            let server = Ipv4Addr::from(teredo_server);
            let v6 = Ipv6Addr::new(0x2001, 0, (teredo_server >> 16) as u16, teredo_server as u16, 0, 0, 0xffff, 0xffff);
            prop_assert_eq!(is_forbidden_ip(IpAddr::V6(v6)), is_forbidden_v4(server), "{}", v6);
        }

        #[test]
        fn shown_targets_read_back(t in target()) {
            let forbidden = matches!(&t.host, Host::Ip(ip) if is_forbidden_ip(*ip));
            match parse(&t.to_string()) {
                Ok(back) => prop_assert_eq!(back, t),
                Err(TargetError::Refused(_)) => prop_assert!(forbidden),
                Err(e) => prop_assert!(false, "{} was not read back: {}", t, e),
            }
        }
    }
}
