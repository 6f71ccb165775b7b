//! Command-line flags of `vmi-operator`, and the small commands (`inspect`, `publish`,
//! `vmi-id`, `crds`) that need no cluster.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::context::Settings;
use crate::operator::{LeaderElection, OperatorConfig};

#[derive(Parser)]
#[command(
    name = "vmi-operator",
    version,
    about = "vSphere Content Library templates as VM Operator VirtualMachineImages"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the operator: sync and image controllers, admission webhook, metrics and health.
    #[command(after_help = RUN_LIMITS)]
    Run(Box<RunArgs>),
    /// Print the image status an OVF descriptor or OVA archive would give (file path or URL).
    Inspect {
        /// Path or http(s):// URL of a .ovf or .ova.
        source: String,
        /// Content library item UUID, to print the image's VMI ID too.
        #[arg(long)]
        uuid: Option<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: OutputFormat,
    },
    /// Write a published content library (lib.json, items.json, per-item files) for a folder
    /// of OVF/OVA templates, servable by any web server.
    Publish {
        dir: PathBuf,
        /// Library name (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
        /// Library UUID (default: kept from an earlier publish, else derived from the name).
        #[arg(long)]
        library_id: Option<String>,
    },
    /// Print the VMI ID of a content library item UUID.
    VmiId { uuid: String },
    /// Write the CRD YAML files (or print them all with `--out -`).
    Crds {
        #[arg(long, default_value = "crds")]
        out: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Yaml,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct RunArgs {
    /// Address of the metrics and health server (/metrics, /healthz, /readyz).
    #[arg(long, env = "VMI_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Address of the admission webhook server.
    #[arg(long, env = "VMI_WEBHOOK_ADDR", default_value = "0.0.0.0:9443")]
    pub webhook_addr: SocketAddr,
    /// Folder holding the webhook's tls.crt and tls.key (reloaded when they change).
    #[arg(long, env = "VMI_WEBHOOK_CERT_DIR")]
    pub webhook_cert_dir: Option<PathBuf>,
    /// Serve no webhook.
    #[arg(long, env = "VMI_DISABLE_WEBHOOK")]
    pub disable_webhook: bool,
    /// How often each library is listed again.
    #[arg(long, env = "VMI_SYNC_INTERVAL", default_value = "5m", value_parser = parse_duration)]
    pub sync_interval: Duration,
    /// Reconciles running at once per controller.
    #[arg(long, env = "VMI_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// API writes in flight at once within one library sync.
    #[arg(long, env = "VMI_WRITE_CONCURRENCY", default_value_t = 16)]
    pub write_concurrency: u16,
    /// Watch namespaced ContentLibraries, items and images in this namespace only (default: all).
    /// Cluster-scoped libraries are always watched.
    #[arg(long, env = "VMI_WATCH_NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// Log format.
    #[arg(long, env = "VMI_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. info or vmi_operator=debug.
    #[arg(long, env = "VMI_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// Elect a leader over a coordination.k8s.io Lease; only the leader reconciles.
    #[arg(long, env = "VMI_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Namespace of the leader election Lease (default: the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "vmware-system-vmop")]
    pub leader_election_namespace: String,
    /// Name of the leader election Lease.
    #[arg(long, env = "VMI_LEASE_NAME", default_value = "vmi-operator-leader")]
    pub lease_name: String,
    /// Lease duration; a dead leader is replaced after about this long.
    #[arg(long, env = "VMI_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,
    /// Identity of this replica (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub instance: Option<String>,
    /// URL of the vCenter whose libraries ContentLibraries without spec.source name.
    #[arg(long, env = "VMI_VCENTER_URL")]
    pub vcenter_url: Option<url::Url>,
    /// Folder holding the vCenter credentials as files `username` and `password` (a mounted Secret).
    #[arg(long, env = "VMI_VCENTER_CREDENTIALS_DIR")]
    pub vcenter_credentials_dir: Option<PathBuf>,
    /// PEM file of the CAs to trust for the vCenter and published libraries.
    #[arg(long, env = "VMI_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Accept any TLS certificate from the vCenter (never in production).
    #[arg(long, env = "VMI_VCENTER_INSECURE")]
    pub vcenter_insecure_skip_verify: bool,
    /// How long start-up waits for the CRDs to be established.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub crd_wait: Duration,
    /// How long one listing of a library (library document and every item) may take.
    #[arg(long, env = "VMI_LIST_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub list_timeout: Duration,
    /// How long fetching one OVF descriptor (from an .ovf, or out of an .ova) may take.
    #[arg(long, env = "VMI_FETCH_TIMEOUT", default_value = "2m", value_parser = parse_duration)]
    pub fetch_timeout: Duration,
    /// Connecting (TCP and TLS) to a published library must finish within this.
    #[arg(long, env = "VMI_SOURCE_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub source_connect_timeout: Duration,
    /// A published library that sends nothing for this long is cut off (also mid-body: a
    /// byte-a-second server is bounded by --list-timeout and --fetch-timeout).
    #[arg(long, env = "VMI_SOURCE_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub source_read_timeout: Duration,
    /// spec.source schemes ClusterContentLibraries may use (comma separated, or none).
    #[arg(long, env = "VMI_SOURCE_CLUSTER_SCHEMES", default_value = crate::source::policy::DEFAULT_CLUSTER_SCHEMES, value_parser = parse_scheme_list)]
    pub source_cluster_schemes: SchemeList,
    /// spec.source schemes namespaced ContentLibraries may use (comma separated, or none).
    /// file:// reads the operator's file system for whoever may create a ContentLibrary.
    #[arg(long, env = "VMI_SOURCE_NAMESPACED_SCHEMES", default_value = crate::source::policy::DEFAULT_NAMESPACED_SCHEMES, value_parser = parse_scheme_list)]
    pub source_namespaced_schemes: SchemeList,
    /// Sources namespaced ContentLibraries may use, comma separated: URL prefixes
    /// (`https://images.example.com/team-a/`) or hosts (images.example.com, *.example.com).
    /// Empty: any source that passes the address rules.
    #[arg(long, env = "VMI_SOURCE_ALLOWED_PREFIXES", default_value = "", value_parser = parse_allow_list)]
    pub source_allowed_prefixes: AllowList,
    /// Let namespaced ContentLibraries reach loopback and unspecified addresses (127.0.0.0/8,
    /// ::1, 0.0.0.0, ::).
    #[arg(long, env = "VMI_SOURCE_ALLOW_LOOPBACK")]
    pub source_allow_loopback: bool,
    /// Let namespaced ContentLibraries reach link-local addresses (169.254.0.0/16, fe80::/10:
    /// cloud metadata services).
    #[arg(long, env = "VMI_SOURCE_ALLOW_LINK_LOCAL")]
    pub source_allow_link_local: bool,
    /// Let namespaced ContentLibraries reach the pod's own addresses (POD_IP, POD_IPS, and the
    /// addresses of its interfaces: its metrics and webhook ports).
    #[arg(long, env = "VMI_SOURCE_ALLOW_POD_ADDRESSES")]
    pub source_allow_pod_addresses: bool,
}

/// What `run --help` says about the limits that are not flags (a test keeps it in step with the
/// constants).
pub const RUN_LIMITS: &str = "\
Fixed limits (not flags):
  vCenter: connect 10s, a read stalled 30s, one API call 60s, preparing a download 120s;
  a failed login is answered to every caller for 10s before the next attempt
  one published-library document or file download (lib.json, items.json, item.json, .ovf, .mf): 180s
  streaming an .ova to its descriptor: 1h (and --fetch-timeout)
  sizes: items.json 256 MiB, another listing document (lib.json, item.json, a vCenter listing)
  64 MiB, an OVF descriptor 32 MiB, a manifest 1 MiB, an .ova 64 GiB
  redirects: at most 5, on the library's own origin, each checked by the source policy

Source policy: namespaced libraries are held to --source-namespaced-schemes,
--source-allowed-prefixes (file:// paths after resolving symlinks) and the address rules
(loopback, link-local and the pod's own addresses are refused unless allowed).
Cluster-scoped libraries are held to --source-cluster-schemes. Libraries read from the vCenter
are not subject to the policy.";

/// A scheme list flag (`file,http,https`).
#[derive(Clone, Debug)]
pub struct SchemeList(pub Vec<String>);

fn parse_scheme_list(s: &str) -> Result<SchemeList, String> {
    crate::source::policy::parse_schemes(s).map(SchemeList)
}

/// A list of allowed sources (prefixes or hosts).
#[derive(Clone, Debug)]
pub struct AllowList(pub Vec<crate::source::policy::AllowEntry>);

fn parse_allow_list(s: &str) -> Result<AllowList, String> {
    s.split(',')
        .filter(|e| !e.trim().is_empty())
        .map(crate::source::policy::AllowEntry::parse)
        .collect::<Result<Vec<_>, _>>()
        .map(AllowList)
}

/// `30s`, `5m`, `1h`, `250ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m or 1h"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?} has an unknown unit (use ms, s, m or h)")),
    }
}

impl RunArgs {
    /// The operator's configuration; reads the credential and CA files.
    pub fn config(&self) -> Result<OperatorConfig, String> {
        let ca_bundle_pem = match &self.ca_bundle {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read CA bundle {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let vcenter = match &self.vcenter_url {
            Some(url) => {
                let dir = self
                    .vcenter_credentials_dir
                    .as_ref()
                    .ok_or("--vcenter-url needs --vcenter-credentials-dir (a folder with files username and password)")?;
                let read = |name: &str| {
                    std::fs::read_to_string(dir.join(name))
                        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                        .map_err(|e| {
                            format!("cannot read vCenter {name} from {}: {e}", dir.display())
                        })
                };
                Some(crate::source::VsphereConfig {
                    url: url.clone(),
                    username: read("username")?,
                    password: read("password")?,
                    ca_bundle_pem: ca_bundle_pem.clone(),
                    insecure_skip_verify: self.vcenter_insecure_skip_verify,
                })
            }
            None => None,
        };
        let instance = self.instance.clone().unwrap_or_else(|| {
            std::env::var("HOSTNAME")
                .unwrap_or_else(|_| format!("vmi-operator-{}", uuid::Uuid::new_v4().simple()))
        });
        let webhook = match (&self.webhook_cert_dir, self.disable_webhook) {
            (Some(dir), false) => Some(crate::operator::webhook_config(self.webhook_addr, dir)),
            _ => None,
        };
        Ok(OperatorConfig {
            // Field by field, never `..`: a flag that is not carried into the settings must not
            // compile (--watch-namespace once was parsed and then dropped here).
            settings: Settings {
                sync_interval: self.sync_interval,
                list_timeout: self.list_timeout,
                fetch_timeout: self.fetch_timeout,
                concurrency: self.concurrency.max(1),
                write_concurrency: usize::from(self.write_concurrency.max(1)),
                watch_namespace: self.watch_namespace.clone().filter(|ns| !ns.is_empty()),
            },
            metrics_addr: self.metrics_addr,
            webhook,
            leader_election: self.leader_elect.then(|| LeaderElection {
                namespace: self.leader_election_namespace.clone(),
                lease_name: self.lease_name.clone(),
                lease_duration: self.lease_duration,
            }),
            vcenter,
            published_tls: crate::source::TlsOptions {
                ca_bundle_pem,
                insecure_skip_verify: false,
            },
            instance,
            crd_wait: self.crd_wait,
            source_policy: crate::source::SourcePolicy {
                cluster_schemes: self.source_cluster_schemes.0.clone(),
                namespaced_schemes: self.source_namespaced_schemes.0.clone(),
                namespaced_allowed: self.source_allowed_prefixes.0.clone(),
                allow_loopback: self.source_allow_loopback,
                allow_link_local: self.source_allow_link_local,
                allow_pod_addresses: self.source_allow_pod_addresses,
                pod_addresses: crate::source::policy::pod_addresses_from_env(),
                connect_timeout: self.source_connect_timeout,
                read_timeout: self.source_read_timeout,
                static_hosts: Default::default(),
            },
        })
    }
}

/// Why `inspect` failed (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {0}: {1}")]
    Read(String, String),
    #[error(transparent)]
    Ova(#[from] crate::ovf::ova::OvaError),
    #[error(transparent)]
    Ovf(#[from] crate::ovf::OvfError),
    #[error(transparent)]
    Uuid(#[from] crate::vmi_id::InvalidUuid),
}

/// Reads a descriptor from a file or URL, unwrapping an OVA.
pub async fn read_descriptor(source: &str) -> Result<Vec<u8>, InspectError> {
    let limit = crate::source::MAX_DESCRIPTOR_BYTES;
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        let response = reqwest::get(source)
            .await
            .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
        let response = response
            .error_for_status()
            .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
        body.to_vec()
    } else {
        let path = Path::new(source);
        if is_ova(path)? {
            let file = std::fs::File::open(path)
                .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
            return Ok(crate::ovf::ova::read_ova(std::io::BufReader::new(file))?.bytes);
        }
        let mut bytes = Vec::new();
        let file = std::fs::File::open(path)
            .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| InspectError::Read(source.into(), e.to_string()))?;
        bytes
    };
    if looks_like_tar(&bytes) {
        return Ok(crate::ovf::ova::read_ova(&bytes[..])?.bytes);
    }
    if bytes.len() as u64 > limit {
        return Err(InspectError::Read(
            source.into(),
            format!("larger than the {limit}-byte descriptor limit"),
        ));
    }
    Ok(bytes)
}

fn is_ova(path: &Path) -> Result<bool, InspectError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ova"))
    {
        return Ok(true);
    }
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path)
        .map_err(|e| InspectError::Read(path.display().to_string(), e.to_string()))?;
    let n = file.read(&mut head).unwrap_or(0);
    Ok(looks_like_tar(&head[..n]))
}

/// A ustar header has `ustar` at offset 257.
fn looks_like_tar(bytes: &[u8]) -> bool {
    bytes.len() >= 262 && &bytes[257..262] == b"ustar"
}

/// What `inspect` prints: the image status plus the VMI ID when a UUID was given.
pub fn inspect_document(
    descriptor: &[u8],
    uuid: Option<&str>,
) -> Result<serde_json::Value, InspectError> {
    let info = crate::ovf::parse_descriptor(descriptor)?;
    let status = crate::image::desired::status_from_ovf(&info);
    let mut doc = serde_json::Map::new();
    if let Some(uuid) = uuid {
        doc.insert("vmiID".into(), crate::vmi_id::vmi_id(uuid)?.into());
        doc.insert("providerItemID".into(), uuid.into());
    }
    doc.insert(
        "status".into(),
        serde_json::to_value(&status).expect("a status always serializes"),
    );
    Ok(serde_json::Value::Object(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::http;

    fn config(flags: &[&str]) -> OperatorConfig {
        let mut argv = vec!["vmi-operator", "run"];
        argv.extend(flags);
        let Command::Run(args) = Cli::try_parse_from(argv).expect("flags parse").command else {
            panic!("not the run command");
        };
        args.config().expect("a configuration")
    }

    #[test]
    fn every_controller_flag_reaches_the_settings() {
        let c = config(&[
            "--sync-interval=7s",
            "--list-timeout=11s",
            "--fetch-timeout=13s",
            "--concurrency=3",
            "--write-concurrency=5",
            "--watch-namespace=team-a",
        ]);
        let s = &c.settings;
        assert_eq!(s.sync_interval, Duration::from_secs(7));
        assert_eq!(s.list_timeout, Duration::from_secs(11));
        assert_eq!(s.fetch_timeout, Duration::from_secs(13));
        assert_eq!(s.concurrency, 3);
        assert_eq!(s.write_concurrency, 5);
        assert_eq!(s.watch_namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = config(&[]);
        let s = &c.settings;
        assert_eq!(s.sync_interval, Duration::from_secs(300));
        assert_eq!(s.list_timeout, Duration::from_secs(300));
        assert_eq!(s.fetch_timeout, Duration::from_secs(120));
        assert_eq!((s.concurrency, s.write_concurrency), (16, 16));
        // An empty VMI_WATCH_NAMESPACE (the chart's default) watches every namespace.
        assert_eq!(
            config(&["--watch-namespace="]).settings.watch_namespace,
            None
        );
    }

    /// RUN_LIMITS states the constants as they are.
    #[test]
    fn stated_limits_match_the_constants() {
        let secs = |d: Duration| format!("{}s", d.as_secs());
        let mib = |b: u64| format!("{} MiB", b / (1024 * 1024));
        for (what, stated) in [
            (
                "connect",
                format!("connect {}", secs(http::CONNECT_TIMEOUT)),
            ),
            (
                "read",
                format!("a read stalled {}", secs(http::READ_TIMEOUT)),
            ),
            ("api", format!("one API call {}", secs(http::API_TIMEOUT))),
            (
                "login",
                format!(
                    "for {} before the next attempt",
                    secs(crate::source::vsphere::LOGIN_RETRY_AFTER)
                ),
            ),
            (
                "prepare",
                format!(
                    "preparing a download {}",
                    secs(crate::source::vsphere::download::PREPARE_TIMEOUT)
                ),
            ),
            (
                "download",
                format!(".mf): {}", secs(http::DOWNLOAD_TIMEOUT)),
            ),
            (
                "ova",
                format!("descriptor: {}h", http::OVA_TIMEOUT.as_secs() / 3600),
            ),
            (
                "listing",
                format!(
                    "vCenter listing)\n  {}",
                    mib(crate::source::MAX_LISTING_BYTES)
                ),
            ),
            (
                "items",
                format!("items.json {}", mib(crate::source::MAX_ITEMS_BYTES)),
            ),
            (
                "descriptor",
                format!("descriptor {}", mib(crate::source::MAX_DESCRIPTOR_BYTES)),
            ),
            (
                "manifest",
                format!("manifest {}", mib(crate::ovf::manifest::MAX_MANIFEST_BYTES)),
            ),
            (
                "ova size",
                format!(
                    "an .ova {} GiB",
                    crate::source::ova_stream::MAX_OVA_BYTES >> 30
                ),
            ),
        ] {
            assert!(
                RUN_LIMITS.contains(&stated),
                "{what}: {stated:?} not in RUN_LIMITS"
            );
        }
    }

    /// Every timeout and policy flag shows its default in `run --help`.
    #[test]
    fn help_states_every_default() {
        use clap::CommandFactory;
        let mut cmd = Cli::command();
        let run = cmd.find_subcommand_mut("run").unwrap();
        let help = run.render_long_help().to_string();
        for needle in [
            "--list-timeout <LIST_TIMEOUT>",
            "[default: 5m]",
            "[default: 2m]",
            "[default: 10s]",
            "[default: 30s]",
            "[default: file,http,https]",
            "[default: http,https]",
            "--source-allowed-prefixes",
            "--source-allow-loopback",
            "--source-allow-link-local",
            "--source-allow-pod-addresses",
            "Fixed limits",
        ] {
            assert!(
                help.contains(needle),
                "{needle:?} missing from run --help:\n{help}"
            );
        }
    }

    /// The flags' defaults are the secure default policy.
    #[test]
    fn default_flags_are_the_default_policy() {
        let cli = Cli::try_parse_from(["vmi-operator", "run"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let config = args.config().unwrap();
        let policy = config.source_policy;
        let default = crate::source::SourcePolicy::default();
        assert_eq!(policy.cluster_schemes, default.cluster_schemes);
        assert_eq!(policy.namespaced_schemes, ["http", "https"]);
        assert!(policy.namespaced_allowed.is_empty());
        assert!(!policy.allow_loopback && !policy.allow_link_local && !policy.allow_pod_addresses);
        assert_eq!(policy.connect_timeout, http::CONNECT_TIMEOUT);
        assert_eq!(policy.read_timeout, http::READ_TIMEOUT);
    }
}
