//! Finds out whether this machine has an IPv6 loopback (`::1`). Where it has none,
//! `cfg(ipv6_loopback)` is not set and the test that needs it is marked ignored, with the reason.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(ipv6_loopback)");
    if std::net::TcpListener::bind(("::1", 0)).is_ok() {
        println!("cargo:rustc-cfg=ipv6_loopback");
    }
}
