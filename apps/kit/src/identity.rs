//! Who is answering: the host name and, inside Kubernetes, the pod.
//!
//! The downward API puts the pod's name, namespace, node and IP into
//! environment variables. We read them once at start and send them back
//! as response headers, so a learner sees which pod answered.

use hyper::header::{HeaderName, HeaderValue};

/// The host name and the pod details the downward API gave us.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The host name: the pod name in Kubernetes, the container id in Docker.
    pub hostname: String,
    /// `POD_NAME`, when set.
    pub pod_name: Option<String>,
    /// `POD_NAMESPACE`, when set.
    pub pod_namespace: Option<String>,
    /// `NODE_NAME`, when set.
    pub node_name: Option<String>,
    /// `POD_IP`, when set.
    pub pod_ip: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Identity {
    /// Reads the host name and the downward API variables.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self::new(
            hostname(),
            var("POD_NAME"),
            var("POD_NAMESPACE"),
            var("NODE_NAME"),
            var("POD_IP"),
        )
    }

    /// Builds an identity from known values (tests use this).
    pub fn new(
        hostname: String,
        pod_name: Option<String>,
        pod_namespace: Option<String>,
        node_name: Option<String>,
        pod_ip: Option<String>,
    ) -> Self {
        let mut id = Identity {
            hostname,
            pod_name,
            pod_namespace,
            node_name,
            pod_ip,
            headers: Vec::new(),
        };
        let pairs = [
            ("x-pod-name", &id.pod_name),
            ("x-pod-namespace", &id.pod_namespace),
            ("x-node-name", &id.node_name),
            ("x-pod-ip", &id.pod_ip),
        ];
        // A value that cannot be a header (a line break, say) is left out, not fatal.
        id.headers = pairs
            .into_iter()
            .filter_map(|(name, value)| {
                let value = HeaderValue::from_str(value.as_deref()?).ok()?;
                Some((HeaderName::from_static(name), value))
            })
            .collect();
        id
    }

    /// The response headers: `X-Pod-Name`, `X-Pod-Namespace`, `X-Node-Name`, `X-Pod-Ip`.
    /// Only the ones that are set.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The identity as JSON fields, for `format=json` answers. Unset values are `null`.
    pub fn json_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("host".into(), self.hostname.clone().into());
        map.insert("pod".into(), self.pod_name.clone().into());
        map.insert("namespace".into(), self.pod_namespace.clone().into());
        map.insert("node".into(), self.node_name.clone().into());
        map.insert("pod_ip".into(), self.pod_ip.clone().into());
        map
    }
}

/// The kernel's host name, or `unknown` when it cannot be read.
// The one `unsafe` of the workspace: the standard library has no way to read the
// host name, and gethostname(2) is a plain C call into a buffer we own.
#[allow(unsafe_code)]
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its full length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match String::from_utf8_lossy(&buf[..end]).into_owned() {
        name if name.is_empty() => "unknown".into(),
        name => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_is_the_kernels() {
        let name = hostname();
        assert!(!name.is_empty());
        assert_eq!(
            name,
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .unwrap()
                .trim()
        );
    }

    #[test]
    fn only_set_values_become_headers() {
        let id = Identity::new(
            "h".into(),
            Some("echo-1".into()),
            None,
            Some("node-a".into()),
            None,
        );
        let names: Vec<_> = id
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(names, [("x-pod-name", "echo-1"), ("x-node-name", "node-a")]);
    }

    #[test]
    fn a_value_with_a_line_break_is_left_out() {
        let id = Identity::new("h".into(), Some("bad\nname".into()), None, None, None);
        assert!(id.headers().is_empty());
        assert_eq!(id.json_fields()["pod"], "bad\nname");
        assert!(id.json_fields()["node"].is_null());
    }
}
