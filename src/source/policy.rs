//! Who may point the operator where: the source policy the admin sets for library sources.
//!
//! A namespaced `ContentLibrary` is written by a tenant, so its `spec.source` must not become a
//! way to read the operator's files or to make it request internal addresses on the tenant's
//! behalf. The rules, checked before anything is opened or sent:
//!
//! - **Schemes per scope.** By default `file://` only for cluster-scoped libraries (the admin's);
//!   `http://` and `https://` for both.
//! - **Allowed prefixes or hosts** for namespaced libraries: each entry is a URL prefix
//!   (`https://images.example.com/team-a/`) or a host (`images.example.com`, `*.example.com`).
//!   Empty: any host the address rules let through. Every URL a namespaced source reads (hrefs,
//!   redirects) is checked, not only `spec.source`.
//! - **Address rules** for namespaced libraries: unspecified (0.0.0.0, ::, which reach this
//!   host), loopback, link-local (169.254.0.0/16, fe80::/10) and the pod's own addresses are
//!   refused unless a flag allows them. A name is resolved, every address it resolves to is
//!   checked, and the connection goes only to those checked addresses (the HTTP client's
//!   resolver is `PolicyResolver`), so a name that resolves differently the second time (DNS
//!   rebinding) gets nowhere. IP literals never reach a resolver; [`SourcePolicy::check_url`]
//!   checks them. Redirects are checked again by the same rules.
//!
//! The vCenter source (a library without `spec.source`) is the admin's own configuration and is
//! not subject to this policy; neither are the address and host rules applied to cluster-scoped
//! libraries, which only a cluster admin can create.
//!
//! Through an HTTP proxy (`HTTPS_PROXY`), the operator connects to the proxy: the scheme and
//! host rules still apply, the address rules then see the proxy's address and the proxy's own
//! egress rules must cover the rest.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

/// Which kind of library a source serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A `ClusterContentLibrary`: created by a cluster admin.
    Cluster,
    /// A `ContentLibrary` in a namespace: created by a tenant.
    Namespaced,
}

impl Scope {
    /// The word of the scope's scheme flag (`--source-<word>-schemes`).
    fn flag_word(&self) -> &'static str {
        match self {
            Scope::Cluster => "cluster",
            Scope::Namespaced => "namespaced",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Cluster => "cluster-scoped",
            Scope::Namespaced => "namespaced",
        })
    }
}

/// Which address rule refused a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressRule {
    /// 0.0.0.0 or `::`: connecting there reaches this host.
    Unspecified,
    Loopback,
    LinkLocal,
    /// One of the pod's own addresses (`POD_IP`/`POD_IPS`, or an address of a local interface).
    PodAddress,
}

impl AddressRule {
    /// The flag that allows what this rule refuses.
    pub fn flag(self) -> &'static str {
        match self {
            AddressRule::Unspecified | AddressRule::Loopback => "--source-allow-loopback",
            AddressRule::LinkLocal => "--source-allow-link-local",
            AddressRule::PodAddress => "--source-allow-pod-addresses",
        }
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressRule::Unspecified => "an unspecified address (it reaches this host)",
            AddressRule::Loopback => "a loopback address",
            AddressRule::LinkLocal => "a link-local address",
            AddressRule::PodAddress => "an address of the operator's own pod",
        })
    }
}

/// Why the policy refused a source URL. Messages name the rule and the flag that changes it,
/// never the URL's credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "{scheme}:// sources are not allowed for {scope} libraries (allowed: {allowed}; see --source-{flag}-schemes)",
        flag = .scope.flag_word()
    )]
    SchemeNotAllowed {
        scheme: String,
        scope: Scope,
        allowed: String,
    },
    #[error(
        "{url} matches none of the sources allowed for namespaced libraries (--source-allowed-prefixes)"
    )]
    HostNotAllowed { url: String },
    #[error(
        "{host} resolves to {address}, {rule}, which namespaced libraries may not reach ({flag})",
        flag = .rule.flag()
    )]
    AddressNotAllowed {
        host: String,
        address: IpAddr,
        rule: AddressRule,
    },
}

impl PolicyError {
    /// Stable reason used in conditions, events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::SchemeNotAllowed { .. } => "SourceSchemeNotAllowed",
            PolicyError::HostNotAllowed { .. } => "SourceHostNotAllowed",
            PolicyError::AddressNotAllowed { .. } => "SourceAddressNotAllowed",
        }
    }

    /// The policy refusal somewhere in an error's chain (a resolver's or a redirect policy's
    /// error, wrapped by reqwest and hyper).
    pub fn find(err: &(dyn std::error::Error + 'static)) -> Option<PolicyError> {
        let mut next = Some(err);
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<PolicyError>() {
                return Some(found.clone());
            }
            next = e.source();
        }
        None
    }
}

/// One entry of `--source-allowed-prefixes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowEntry {
    /// A URL prefix: same scheme, host and port; the path starts with the prefix's path on a
    /// segment boundary.
    Prefix(Url),
    /// A host name or IP, any scheme, port and path; `*.example.com` matches its subdomains.
    Host(String),
}

impl AllowEntry {
    /// Parses `https://h/path/` (a prefix) or `h`, `*.h` (a host).
    pub fn parse(raw: &str) -> Result<AllowEntry, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("an empty allowed source".into());
        }
        if raw.contains("://") {
            let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(format!("{raw:?}: an allowed prefix holds no credentials"));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(format!(
                    "{raw:?}: an allowed prefix has no query or fragment"
                ));
            }
            if url.scheme() != "file" && url.host_str().is_none() {
                return Err(format!("{raw:?} has no host"));
            }
            return Ok(AllowEntry::Prefix(url));
        }
        let host = raw.to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        if bare.is_empty()
            || bare.contains(['/', '@', '*', ' ', '?', '#'])
            || Url::parse(&format!("http://{bare}/")).is_err()
        {
            return Err(format!(
                "{raw:?} is neither a URL prefix (https://host/path/) nor a host (host, *.domain)"
            ));
        }
        Ok(AllowEntry::Host(host))
    }

    fn matches(&self, url: &Url) -> bool {
        match self {
            AllowEntry::Host(host) => {
                let Some(have) = url.host_str() else {
                    return false;
                };
                let have = have.to_ascii_lowercase();
                match host.strip_prefix("*.") {
                    Some(domain) => have
                        .strip_suffix(domain)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                    None => have == *host,
                }
            }
            AllowEntry::Prefix(prefix) => {
                if prefix.scheme() != url.scheme()
                    || prefix.host_str().map(str::to_ascii_lowercase)
                        != url.host_str().map(str::to_ascii_lowercase)
                    || prefix.port_or_known_default() != url.port_or_known_default()
                {
                    return false;
                }
                let (want, have) = (prefix.path(), url.path());
                // Encoded separators and dots could mean another path to the server than the
                // one we compare; a source that needs them is not worth the ambiguity.
                let lower = have.to_ascii_lowercase();
                if ["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e)) || have.contains('\\') {
                    return false;
                }
                if want.ends_with('/') {
                    have.starts_with(want)
                } else {
                    have == want
                        || have
                            .strip_prefix(want)
                            .is_some_and(|rest| rest.starts_with('/'))
                }
            }
        }
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Prefix(url) => f.write_str(url.as_str()),
            AllowEntry::Host(host) => f.write_str(host),
        }
    }
}

/// What library sources may reach, and how long they may take. Built from flags
/// (`--source-*`); [`SourcePolicy::default`] is the secure default the flags default to.
#[derive(Clone)]
pub struct SourcePolicy {
    /// Schemes cluster-scoped libraries may use (default: file, http, https).
    pub cluster_schemes: Vec<String>,
    /// Schemes namespaced libraries may use (default: http, https).
    pub namespaced_schemes: Vec<String>,
    /// Sources namespaced libraries may use; empty: any that passes the address rules.
    pub namespaced_allowed: Vec<AllowEntry>,
    /// Let namespaced libraries reach loopback (and unspecified) addresses.
    pub allow_loopback: bool,
    /// Let namespaced libraries reach link-local addresses (cloud metadata services live there).
    pub allow_link_local: bool,
    /// Let namespaced libraries reach the pod's own addresses.
    pub allow_pod_addresses: bool,
    /// The pod's addresses besides those of its interfaces (`POD_IP`, `POD_IPS`).
    pub pod_addresses: Vec<IpAddr>,
    /// Connecting (TCP + TLS) to a published library must finish within this.
    pub connect_timeout: Duration,
    /// No single read from a published library may stall longer than this.
    pub read_timeout: Duration,
    /// Names resolved without DNS (tests: a name that resolves to a link-local address).
    pub static_hosts: HashMap<String, Vec<IpAddr>>,
}

impl fmt::Debug for SourcePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed: Vec<String> = self
            .namespaced_allowed
            .iter()
            .map(|e| e.to_string())
            .collect();
        f.debug_struct("SourcePolicy")
            .field("cluster_schemes", &self.cluster_schemes)
            .field("namespaced_schemes", &self.namespaced_schemes)
            .field("namespaced_allowed", &allowed)
            .field("allow_loopback", &self.allow_loopback)
            .field("allow_link_local", &self.allow_link_local)
            .field("allow_pod_addresses", &self.allow_pod_addresses)
            .field("pod_addresses", &self.pod_addresses)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

/// Default of `--source-cluster-schemes`.
pub const DEFAULT_CLUSTER_SCHEMES: &str = "file,http,https";
/// Default of `--source-namespaced-schemes`.
pub const DEFAULT_NAMESPACED_SCHEMES: &str = "http,https";

impl Default for SourcePolicy {
    fn default() -> Self {
        let list = |s: &str| s.split(',').map(str::to_string).collect();
        SourcePolicy {
            cluster_schemes: list(DEFAULT_CLUSTER_SCHEMES),
            namespaced_schemes: list(DEFAULT_NAMESPACED_SCHEMES),
            namespaced_allowed: Vec::new(),
            allow_loopback: false,
            allow_link_local: false,
            allow_pod_addresses: false,
            pod_addresses: pod_addresses_from_env(),
            connect_timeout: super::limits::CONNECT_TIMEOUT,
            read_timeout: super::limits::READ_TIMEOUT,
            static_hosts: HashMap::new(),
        }
    }
}

/// The pod's addresses the downward API gives (`POD_IP`, `POD_IPS` comma separated).
pub fn pod_addresses_from_env() -> Vec<IpAddr> {
    ["POD_IP", "POD_IPS"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .flat_map(|v| {
            v.split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect::<Vec<IpAddr>>()
        })
        .collect()
}

/// Parses a comma-separated scheme list (`file,http,https`); `none` is the empty list (an
/// empty environment variable counts as unset).
pub fn parse_schemes(raw: &str) -> Result<Vec<String>, String> {
    let mut schemes = Vec::new();
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(schemes);
    }
    for s in raw.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        if s.is_empty() {
            continue;
        }
        let s = s.trim_end_matches("://").to_string();
        if !matches!(s.as_str(), "file" | "http" | "https") {
            return Err(format!("unknown source scheme {s:?} (file, http, https)"));
        }
        if !schemes.contains(&s) {
            schemes.push(s);
        }
    }
    Ok(schemes)
}

impl SourcePolicy {
    /// A policy that allows everything the sources can do (tests and tools that are their own
    /// admin).
    pub fn unrestricted() -> Self {
        SourcePolicy {
            namespaced_schemes: parse_schemes(DEFAULT_CLUSTER_SCHEMES).expect("valid"),
            allow_loopback: true,
            allow_link_local: true,
            allow_pod_addresses: true,
            ..SourcePolicy::default()
        }
    }

    fn schemes(&self, scope: Scope) -> &[String] {
        match scope {
            Scope::Cluster => &self.cluster_schemes,
            Scope::Namespaced => &self.namespaced_schemes,
        }
    }

    /// Whether this scope's sources need their addresses checked (and a filtering resolver).
    pub fn checks_addresses(&self, scope: Scope) -> bool {
        scope == Scope::Namespaced
            && !(self.allow_loopback && self.allow_link_local && self.allow_pod_addresses)
    }

    /// Checks a URL a source of `scope` is about to read (its `spec.source`, an href, a
    /// redirect's target): scheme, allowed prefixes or hosts, and an IP literal host against the
    /// address rules. Names are checked when they are resolved (`PolicyResolver`).
    pub fn check_url(&self, scope: Scope, url: &Url) -> Result<(), PolicyError> {
        let scheme = url.scheme().to_ascii_lowercase();
        let allowed = self.schemes(scope);
        if !allowed.contains(&scheme) {
            return Err(PolicyError::SchemeNotAllowed {
                scheme,
                scope,
                allowed: if allowed.is_empty() {
                    "none".into()
                } else {
                    allowed.join(", ")
                },
            });
        }
        if scope == Scope::Cluster {
            return Ok(());
        }
        if !self.namespaced_allowed.is_empty()
            && !self.namespaced_allowed.iter().any(|e| e.matches(url))
        {
            return Err(PolicyError::HostNotAllowed {
                url: super::redact::redact(url),
            });
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            self.check_address(scope, url.host_str().unwrap_or_default(), ip)?;
        }
        Ok(())
    }

    /// Checks one address a source of `scope` would connect to.
    pub fn check_address(&self, scope: Scope, host: &str, ip: IpAddr) -> Result<(), PolicyError> {
        if scope == Scope::Cluster {
            return Ok(());
        }
        let refuse = |rule| {
            Err(PolicyError::AddressNotAllowed {
                host: host.to_string(),
                address: ip,
                rule,
            })
        };
        match classify(ip, &self.pod_addresses) {
            Some(rule @ (AddressRule::Unspecified | AddressRule::Loopback))
                if !self.allow_loopback =>
            {
                refuse(rule)
            }
            Some(AddressRule::LinkLocal) if !self.allow_link_local => {
                refuse(AddressRule::LinkLocal)
            }
            Some(AddressRule::PodAddress) if !self.allow_pod_addresses => {
                refuse(AddressRule::PodAddress)
            }
            _ => Ok(()),
        }
    }

    /// Resolves `host` and checks every address: all must pass (a name with one internal
    /// address among public ones is refused, not filtered, so the refusal is visible).
    pub async fn resolve(&self, scope: Scope, host: &str) -> Result<Vec<IpAddr>, BoxError> {
        let addrs: Vec<IpAddr> = match self.static_hosts.get(&host.to_ascii_lowercase()) {
            Some(found) => found.clone(),
            None => tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect(),
        };
        for ip in &addrs {
            self.check_address(scope, host, *ip)?;
        }
        if addrs.is_empty() {
            return Err(format!("{host} resolves to no address").into());
        }
        Ok(addrs)
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The rule an address falls under, if any. An IPv4-mapped (`::ffff:a.b.c.d`) or NAT64
/// (`64:ff9b::a.b.c.d`) IPv6 address is judged by the IPv4 address it carries.
pub fn classify(ip: IpAddr, pod_addresses: &[IpAddr]) -> Option<AddressRule> {
    let ip = match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    if ip.is_unspecified() {
        return Some(AddressRule::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressRule::Loopback);
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if link_local {
        return Some(AddressRule::LinkLocal);
    }
    if pod_addresses.contains(&ip) || is_local_address(ip) {
        return Some(AddressRule::PodAddress);
    }
    None
}

fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0])
        .then(|| Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8))
}

/// Whether an address belongs to one of this host's (this pod's) interfaces: only those can be
/// bound. Fails closed: should binding non-local addresses be enabled (`ip_nonlocal_bind`), more
/// is refused, never less.
fn is_local_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// The HTTP client's resolver for sources under address rules: connections go only to
/// addresses that passed [`SourcePolicy::check_address`].
pub(crate) struct PolicyResolver {
    pub policy: Arc<SourcePolicy>,
    pub scope: Scope,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let scope = self.scope;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = policy.resolve(scope, &host).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn strict() -> SourcePolicy {
        SourcePolicy {
            pod_addresses: vec!["10.1.2.3".parse().unwrap()],
            ..SourcePolicy::default()
        }
    }

    #[test]
    fn file_is_for_cluster_libraries_by_default() {
        let p = strict();
        let file = url("file:///srv/lib/lib.json");
        assert!(p.check_url(Scope::Cluster, &file).is_ok());
        let e = p.check_url(Scope::Namespaced, &file).unwrap_err();
        assert_eq!(e.reason(), "SourceSchemeNotAllowed");
        assert!(e.to_string().contains("--source-namespaced-schemes"), "{e}");
        for s in ["http://images.example.com/lib.json", "https://h/x"] {
            assert!(p.check_url(Scope::Namespaced, &url(s)).is_ok(), "{s}");
            assert!(p.check_url(Scope::Cluster, &url(s)).is_ok(), "{s}");
        }
        let none = SourcePolicy {
            cluster_schemes: vec![],
            ..strict()
        };
        let e = none.check_url(Scope::Cluster, &file).unwrap_err();
        assert!(e.to_string().contains("allowed: none"), "{e}");
    }

    #[test]
    fn address_rules() {
        let p = strict();
        let cases = [
            ("127.0.0.1", Some(AddressRule::Loopback)),
            ("127.3.4.5", Some(AddressRule::Loopback)),
            ("::1", Some(AddressRule::Loopback)),
            ("::ffff:127.0.0.1", Some(AddressRule::Loopback)),
            ("64:ff9b::7f00:1", Some(AddressRule::Loopback)),
            ("0.0.0.0", Some(AddressRule::Unspecified)),
            ("::", Some(AddressRule::Unspecified)),
            ("169.254.169.254", Some(AddressRule::LinkLocal)),
            ("::ffff:169.254.169.254", Some(AddressRule::LinkLocal)),
            ("fe80::1", Some(AddressRule::LinkLocal)),
            ("febf::1", Some(AddressRule::LinkLocal)),
            ("fec0::1", None),
            ("10.1.2.3", Some(AddressRule::PodAddress)),
            ("10.1.2.4", None),
            ("192.0.2.10", None),
            ("2001:db8::1", None),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(classify(ip, &p.pod_addresses), want, "{ip}");
            let checked = p.check_address(Scope::Namespaced, "h", ip);
            assert_eq!(checked.is_err(), want.is_some(), "{ip}: {checked:?}");
            if let Err(e) = checked {
                assert_eq!(e.reason(), "SourceAddressNotAllowed");
            }
            assert!(p.check_address(Scope::Cluster, "h", ip).is_ok(), "{ip}");
        }
    }

    #[test]
    fn each_address_rule_has_its_flag() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let link: IpAddr = "169.254.1.1".parse().unwrap();
        let pod: IpAddr = "10.1.2.3".parse().unwrap();
        let p = SourcePolicy {
            allow_loopback: true,
            ..strict()
        };
        assert!(p.check_address(Scope::Namespaced, "h", loopback).is_ok());
        assert!(p.check_address(Scope::Namespaced, "h", link).is_err());
        let p = SourcePolicy {
            allow_link_local: true,
            ..strict()
        };
        assert!(p.check_address(Scope::Namespaced, "h", link).is_ok());
        assert!(p.check_address(Scope::Namespaced, "h", pod).is_err());
        let p = SourcePolicy {
            allow_pod_addresses: true,
            ..strict()
        };
        assert!(p.check_address(Scope::Namespaced, "h", pod).is_ok());
        assert!(p.check_address(Scope::Namespaced, "h", loopback).is_err());
    }

    #[test]
    fn local_interface_addresses_are_the_pods() {
        // 127.0.0.1 is local but judged as loopback first; an address no interface holds is not.
        assert!(is_local_address("127.0.0.1".parse().unwrap()));
        assert!(!is_local_address("192.0.2.77".parse().unwrap()));
    }

    #[test]
    fn ip_literals_are_checked_in_the_url() {
        let p = strict();
        for s in [
            "http://127.0.0.1:8080/lib.json",
            "http://[::1]/lib.json",
            "http://[::ffff:7f00:1]/lib.json",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:8080/metrics",
            "http://2130706433/lib.json",
            "http://0x7f.1/lib.json",
        ] {
            let e = p.check_url(Scope::Namespaced, &url(s)).unwrap_err();
            assert_eq!(e.reason(), "SourceAddressNotAllowed", "{s}: {e}");
        }
        assert!(
            p.check_url(Scope::Cluster, &url("http://127.0.0.1/lib.json"))
                .is_ok()
        );
    }

    #[test]
    fn allowed_prefixes_and_hosts() {
        let entries = [
            "https://images.example.com/team-a/",
            "https://bucket.example.com/exact",
            "mirror.example.com",
            "*.cdn.example.com",
        ];
        let p = SourcePolicy {
            namespaced_allowed: entries
                .iter()
                .map(|e| AllowEntry::parse(e).unwrap())
                .collect(),
            ..strict()
        };
        let ok = [
            "https://images.example.com/team-a/lib.json",
            "https://IMAGES.example.com:443/team-a/x/item.json",
            "https://bucket.example.com/exact",
            "https://bucket.example.com/exact/lib.json",
            "http://mirror.example.com:8080/anything",
            "https://a.cdn.example.com/lib.json",
            "https://a.b.cdn.example.com/lib.json",
            // The url crate removes dot segments before we compare.
            "https://images.example.com/team-b/../team-a/lib.json",
        ];
        for s in ok {
            assert!(p.check_url(Scope::Namespaced, &url(s)).is_ok(), "{s}");
        }
        let refused = [
            "https://images.example.com/team-b/lib.json",
            "https://images.example.com/team-a/../team-b/lib.json",
            "https://images.example.com/team-a/..%2fteam-b/lib.json",
            "https://images.example.com/team-a/%2e%2e/team-b/lib.json",
            "http://images.example.com/team-a/lib.json",
            "https://images.example.com:8443/team-a/lib.json",
            "https://images.example.com.evil.com/team-a/lib.json",
            "https://bucket.example.com/exactly",
            "https://cdn.example.com/lib.json",
            "https://xcdn.example.com/lib.json",
            "https://other.example.com/lib.json",
        ];
        for s in refused {
            let e = p.check_url(Scope::Namespaced, &url(s)).unwrap_err();
            assert_eq!(e.reason(), "SourceHostNotAllowed", "{s}: {e}");
        }
        // The address rules apply to allowed hosts too.
        let p = SourcePolicy {
            namespaced_allowed: vec![AllowEntry::parse("127.0.0.1").unwrap()],
            ..strict()
        };
        let e = p
            .check_url(Scope::Namespaced, &url("http://127.0.0.1/lib.json"))
            .unwrap_err();
        assert_eq!(e.reason(), "SourceAddressNotAllowed");
    }

    #[test]
    fn refusals_never_show_credentials() {
        let p = SourcePolicy {
            namespaced_allowed: vec![AllowEntry::parse("good.example.com").unwrap()],
            ..strict()
        };
        let e = p
            .check_url(
                Scope::Namespaced,
                &url("https://admin:s3cret@bad.example.com/lib.json"),
            )
            .unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(!e.to_string().contains("admin"), "{e}");
    }

    #[test]
    fn allow_entries_parse() {
        for bad in [
            "",
            "https://u:p@h/x/",
            "https://h/x?y=1",
            "h/x",
            "*",
            "*.",
            "a b",
            "ftp//x",
        ] {
            assert!(AllowEntry::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AllowEntry::parse(" Mirror.Example.com ").unwrap(),
            AllowEntry::Host("mirror.example.com".into())
        );
        assert!(matches!(
            AllowEntry::parse("file:///srv/libraries/").unwrap(),
            AllowEntry::Prefix(_)
        ));
        assert_eq!(
            parse_schemes("file, HTTP,https://").unwrap(),
            ["file", "http", "https"]
        );
        assert!(parse_schemes("ftp").is_err());
        assert!(parse_schemes("").unwrap().is_empty());
        assert!(parse_schemes("none").unwrap().is_empty());
    }

    #[tokio::test]
    async fn resolving_checks_every_address() {
        let mut p = strict();
        p.static_hosts.insert(
            "mixed.test".into(),
            vec![
                "192.0.2.1".parse().unwrap(),
                "169.254.169.254".parse().unwrap(),
            ],
        );
        p.static_hosts
            .insert("public.test".into(), vec!["192.0.2.1".parse().unwrap()]);
        let e = p
            .resolve(Scope::Namespaced, "mixed.test")
            .await
            .unwrap_err();
        let found = PolicyError::find(e.as_ref()).unwrap();
        assert_eq!(found.reason(), "SourceAddressNotAllowed");
        assert!(found.to_string().contains("169.254.169.254"), "{found}");
        assert_eq!(
            p.resolve(Scope::Namespaced, "public.test").await.unwrap(),
            ["192.0.2.1".parse::<IpAddr>().unwrap()]
        );
        let e = p.resolve(Scope::Namespaced, "localhost").await.unwrap_err();
        assert!(PolicyError::find(e.as_ref()).is_some(), "{e}");
        assert!(p.resolve(Scope::Cluster, "localhost").await.is_ok());
    }
}
