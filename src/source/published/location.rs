//! Where a published library lives (a directory or an http(s) URL) and the rules for following
//! its hrefs.
//!
//! - A `file://` library reads nothing outside its directory: hrefs with `..` segments or
//!   absolute ones are refused, and every path is checked again after resolving symlinks.
//!   Under a source policy, the resolved path is held to the policy too (an allowed prefix is a
//!   path, and a symlink inside it may point anywhere), and so is the file actually opened.
//! - An http(s) library follows hrefs relative to its URL and absolute ones on its own origin
//!   (scheme, host, port), and redirects only within that origin. Credentials in the URL's user
//!   info are sent as basic auth and never shown.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use reqwest::redirect::{Attempt, Policy};
use url::Url;

use std::time::Duration;

use crate::source::http::{self, DOWNLOAD_TIMEOUT, OVA_TIMEOUT, TlsOptions};
use crate::source::policy::{PolicyError, PolicyResolver, Scope, SourcePolicy};
use crate::source::{SourceError, ova_stream};

use super::format::LIB_FILE;

/// Redirects followed within the library's origin.
const MAX_REDIRECTS: usize = 5;

pub(crate) struct Location {
    /// The `lib.json` URL, without user info. Hrefs are resolved against it.
    lib_url: Url,
    transport: Transport,
    /// The source policy every URL read is checked against (None: the caller is its own admin).
    guard: Option<Guard>,
}

/// The source policy and the scope of the library it applies to.
#[derive(Clone)]
pub(crate) struct Guard {
    pub policy: Arc<SourcePolicy>,
    pub scope: Scope,
}

impl Guard {
    fn check(&self, url: &Url) -> Result<(), SourceError> {
        Ok(self.policy.check_url(self.scope, url)?)
    }

    /// Checks the path a `file://` URL resolves to (symlinks and `..` resolved): a prefix
    /// matched on the URL alone lets a symlink inside an allowed folder reach any file.
    fn check_resolved(&self, url: &Url, real: &Path) -> Result<(), SourceError> {
        let Ok(real_url) = Url::from_file_path(real) else {
            return Err(SourceError::InvalidResponse(format!(
                "{url} resolves to {}, which is not an absolute path",
                real.display()
            )));
        };
        match self.policy.check_url(self.scope, &real_url) {
            Ok(()) => Ok(()),
            // Name both: the URL the library asked for and where it really leads.
            Err(PolicyError::HostNotAllowed { .. }) if real_url != *url => {
                Err(SourceError::Policy(PolicyError::HostNotAllowed {
                    url: format!("{url} (resolves to {real_url})"),
                }))
            }
            Err(e) => Err(e.into()),
        }
    }
}

enum Transport {
    File {
        root: PathBuf,
    },
    Http {
        client: reqwest::Client,
        auth: Option<(String, String)>,
    },
}

impl Location {
    /// `url` names `lib.json` or the directory holding it (a `file://` directory, or an http URL
    /// ending in `/`).
    pub(crate) fn new(
        url: Url,
        tls: &TlsOptions,
        guard: Option<Guard>,
    ) -> Result<Self, SourceError> {
        // Before anything, even a stat of a path, is done for it.
        if let Some(guard) = &guard {
            guard.check(&url)?;
        }
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| SourceError::Config(format!("{url} is not a local path")))?;
                let is_dir = url.path().ends_with('/') || path.is_dir();
                let (root, lib) = if is_dir {
                    (path.clone(), path.join(LIB_FILE))
                } else {
                    let root = path
                        .parent()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| PathBuf::from("/"));
                    (root, path)
                };
                let lib_url = Url::from_file_path(&lib).map_err(|()| {
                    SourceError::Config(format!("{} is not an absolute path", lib.display()))
                })?;
                Ok(Location {
                    lib_url,
                    transport: Transport::File { root },
                    guard,
                })
            }
            "http" | "https" if url.host_str().is_some() => {
                let auth = (!url.username().is_empty() || url.password().is_some()).then(|| {
                    let user = percent_decode_str(url.username())
                        .decode_utf8_lossy()
                        .into_owned();
                    let pass = percent_decode_str(url.password().unwrap_or(""))
                        .decode_utf8_lossy()
                        .into_owned();
                    (user, pass)
                });
                let mut lib_url = url.clone();
                let _ = lib_url.set_username("");
                let _ = lib_url.set_password(None);
                lib_url.set_fragment(None);
                if lib_url.path().ends_with('/') {
                    lib_url = lib_url
                        .join(LIB_FILE)
                        .expect("a file name joins any http URL");
                }
                let client = http_client(tls, guard.as_ref())?;
                Ok(Location {
                    lib_url,
                    transport: Transport::Http { client, auth },
                    guard,
                })
            }
            _ => Err(SourceError::Config(format!(
                "published library URL {} must be https://, http:// or file://",
                http::redact(&url)
            ))),
        }
    }

    pub(crate) fn lib_url(&self) -> &Url {
        &self.lib_url
    }

    /// The URL an href of this library names, or why it may not be followed.
    pub(crate) fn resolve(&self, href: &str) -> Result<Url, SourceError> {
        let refuse =
            |why: &str| SourceError::InvalidResponse(format!("refusing href {href:?}: {why}"));
        if href.is_empty() {
            return Err(refuse("empty"));
        }
        if href.contains('\\') {
            return Err(refuse("backslash in path"));
        }
        let path_part = href.split(['?', '#']).next().unwrap_or("");
        if path_part.split('/').any(|seg| {
            let seg = percent_decode_str(seg).decode_utf8_lossy();
            seg == ".." || seg.contains('/') || seg.contains('\\')
        }) {
            return Err(refuse("`..` leaves the library"));
        }
        let absolute = href.starts_with('/') || Url::parse(href).is_ok();
        let url = self
            .lib_url
            .join(href)
            .map_err(|e| refuse(&e.to_string()))?;
        match &self.transport {
            Transport::File { .. } if absolute => Err(refuse(
                "absolute hrefs are not followed in a file:// library",
            )),
            Transport::File { .. } => Ok(url),
            Transport::Http { .. } if http::same_origin(&url, &self.lib_url) => Ok(url),
            Transport::Http { .. } => Err(refuse("not on the library's origin")),
        }
    }

    /// Reads a document or file of the library; `Ok(None)` when it does not exist.
    pub(crate) async fn read(
        &self,
        url: &Url,
        limit: u64,
        what: &str,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        self.check(url)?;
        match &self.transport {
            Transport::File { root } => {
                let read = async {
                    let Some(file) = self.open_file(root, url).await? else {
                        return Ok(None);
                    };
                    let (what, shown) = (what.to_string(), url.to_string());
                    tokio::task::spawn_blocking(move || read_file(file, limit, &what, &shown))
                        .await
                        .map_err(|e| io_error(url.as_str(), std::io::Error::other(e)))?
                        .map(Some)
                };
                // A hung network file system must not hang the sync either.
                with_timeout(url, DOWNLOAD_TIMEOUT, read).await
            }
            Transport::Http { .. } => {
                let Some(resp) = self.get(url, DOWNLOAD_TIMEOUT).await? else {
                    return Ok(None);
                };
                http::read_limited(resp, limit, what).await.map(Some)
            }
        }
    }

    /// The descriptor inside an OVA of the library; `Ok(None)` when the OVA does not exist.
    pub(crate) async fn ova_descriptor(
        &self,
        item: &str,
        url: &Url,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        self.check(url)?;
        match &self.transport {
            Transport::File { root } => {
                let read = async {
                    let Some(file) = self.open_file(root, url).await? else {
                        return Ok(None);
                    };
                    ova_stream::descriptor_from_file(item, file).await.map(Some)
                };
                with_timeout(url, OVA_TIMEOUT, read).await
            }
            Transport::Http { .. } => {
                let Some(resp) = self.get(url, OVA_TIMEOUT).await? else {
                    return Ok(None);
                };
                ova_stream::descriptor_from_stream(item, resp.bytes_stream())
                    .await
                    .map(Some)
            }
        }
    }

    /// Opens a file of a `file://` library, `Ok(None)` when it does not exist: only a regular
    /// file inside the library's directory once symlinks are resolved, and under a policy only
    /// one whose resolved path the policy allows. The file actually opened is checked again
    /// (where the system says which it is), so a symlink swapped in after the check gains
    /// nothing.
    async fn open_file(&self, root: &Path, url: &Url) -> Result<Option<File>, SourceError> {
        let Some(real) = resolved(url).await? else {
            return Ok(None);
        };
        // The policy first: its refusal names the rule and the flag.
        if let Some(guard) = &self.guard {
            guard.check_resolved(url, &real)?;
        }
        confine(root, &real, url).await?;
        // Only regular files: opening a named pipe (or a device) would block the reader for good.
        let meta = tokio::fs::metadata(&real)
            .await
            .map_err(|e| io_error(url.as_str(), e))?;
        if !meta.is_file() {
            return Err(SourceError::InvalidResponse(format!(
                "{url} is not a regular file"
            )));
        }
        let shown = url.to_string();
        let opened = real.clone();
        let (file, actual) = tokio::task::spawn_blocking(move || {
            let file = File::open(&opened).map_err(|e| io_error(&shown, e))?;
            let actual = opened_path(&file);
            Ok::<_, SourceError>((file, actual))
        })
        .await
        .map_err(|e| io_error(url.as_str(), std::io::Error::other(e)))??;
        if let Some(actual) = actual.filter(|a| *a != real) {
            if let Some(guard) = &self.guard {
                guard.check_resolved(url, &actual)?;
            }
            confine(root, &actual, url).await?;
        }
        Ok(Some(file))
    }

    /// Every URL read is checked, not only the library's: an href may name another path of the
    /// same origin than an allowed prefix covers.
    fn check(&self, url: &Url) -> Result<(), SourceError> {
        match &self.guard {
            Some(guard) => guard.check(url),
            None => Ok(()),
        }
    }

    async fn get(
        &self,
        url: &Url,
        timeout: Duration,
    ) -> Result<Option<reqwest::Response>, SourceError> {
        let Transport::Http { client, auth } = &self.transport else {
            unreachable!("http only")
        };
        let mut req = client.get(url.clone()).timeout(timeout);
        if let Some((user, pass)) = auth {
            req = req.basic_auth(user, Some(pass));
        }
        let resp = req.send().await.map_err(|e| http::unreachable(url, e))?;
        if http::is_not_found(&resp) {
            return Ok(None);
        }
        http::check_status(url, resp).await.map(Some)
    }
}

async fn with_timeout<T>(
    url: &Url,
    limit: Duration,
    work: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    tokio::time::timeout(limit, work).await.unwrap_or_else(|_| {
        Err(SourceError::Unreachable {
            url: url.to_string(),
            message: format!("reading did not finish within {limit:?}"),
        })
    })
}

/// The HTTP client of a library: same-origin redirects, each checked by the policy again; under
/// address rules, a resolver that lets it connect only to checked addresses.
fn http_client(tls: &TlsOptions, guard: Option<&Guard>) -> Result<reqwest::Client, SourceError> {
    let Some(guard) = guard else {
        return http::build_client(tls, Policy::custom(same_origin_redirects));
    };
    let checked = guard.clone();
    let redirect = Policy::custom(move |attempt| {
        // The policy's refusal first, so its reason is the one the library shows.
        if let Err(refused) = checked.policy.check_url(checked.scope, attempt.url()) {
            return attempt.error(refused);
        }
        same_origin_redirects(attempt)
    });
    let resolver = guard.policy.checks_addresses(guard.scope).then(|| {
        Arc::new(PolicyResolver {
            policy: guard.policy.clone(),
            scope: guard.scope,
        })
    });
    http::build_client_with(
        tls,
        redirect,
        guard.policy.connect_timeout,
        guard.policy.read_timeout,
        resolver,
    )
}

fn same_origin_redirects(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first().cloned();
    if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else if first.is_some_and(|f| http::same_origin(&f, attempt.url())) {
        attempt.follow()
    } else {
        attempt.error("redirect leaves the library's origin")
    }
}

/// The path `url` names once `..` and symlinks are resolved, if it exists.
async fn resolved(url: &Url) -> Result<Option<PathBuf>, SourceError> {
    let path = url
        .to_file_path()
        .map_err(|()| SourceError::InvalidResponse(format!("{url} is not a local path")))?;
    match tokio::fs::canonicalize(&path).await {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(url.as_str(), e)),
    }
}

/// Refuses a resolved path outside the library's directory (itself resolved).
async fn confine(root: &Path, real: &Path, url: &Url) -> Result<(), SourceError> {
    let root_real = tokio::fs::canonicalize(root)
        .await
        .map_err(|e| io_error(&root.display().to_string(), e))?;
    if !real.starts_with(&root_real) {
        return Err(outside(url, root));
    }
    Ok(())
}

fn outside(url: &Url, root: &Path) -> SourceError {
    SourceError::InvalidResponse(format!(
        "refusing {url}: it resolves outside the library directory {}",
        root.display()
    ))
}

/// The path of the file `file` is open on, where the system tells (Linux: `/proc/self/fd`).
fn opened_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

fn read_file(file: File, limit: u64, what: &str, shown: &str) -> Result<Vec<u8>, SourceError> {
    let meta = file.metadata().map_err(|e| io_error(shown, e))?;
    if !meta.is_file() {
        return Err(SourceError::InvalidResponse(format!(
            "{shown} is not a regular file"
        )));
    }
    if meta.len() > limit {
        return Err(SourceError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    let mut body = Vec::with_capacity(meta.len() as usize);
    // The file may grow between the size check and the read.
    file.take(limit + 1)
        .read_to_end(&mut body)
        .map_err(|e| io_error(shown, e))?;
    if body.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    Ok(body)
}

fn io_error(shown: &str, e: std::io::Error) -> SourceError {
    SourceError::Unreachable {
        url: shown.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_location(dir: &Path) -> Location {
        Location::new(
            Url::from_directory_path(dir).unwrap(),
            &TlsOptions::default(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn file_hrefs_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let loc = file_location(dir.path());
        assert!(loc.lib_url().as_str().ends_with("/lib.json"));
        assert!(loc.resolve("photon/photon.ovf").is_ok());
        assert!(loc.resolve("photon%20os/a.ovf").is_ok());
        for bad in [
            "../x",
            "a/../../x",
            "a/%2e%2e/x",
            "%2E%2E/x",
            "/etc/passwd",
            "file:///etc/passwd",
            "a\\..\\x",
            "",
        ] {
            assert!(loc.resolve(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn http_hrefs_stay_on_origin() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = Url::parse("https://user:pw@lib.example.com/images/lib.json").unwrap();
        let loc = Location::new(url, &TlsOptions::default(), None).unwrap();
        assert_eq!(
            loc.lib_url().as_str(),
            "https://lib.example.com/images/lib.json"
        );
        assert_eq!(
            loc.resolve("a/item.json").unwrap().as_str(),
            "https://lib.example.com/images/a/item.json"
        );
        assert!(
            loc.resolve("/other/a.ovf").is_ok(),
            "absolute path on the same origin"
        );
        assert!(loc.resolve("https://lib.example.com:443/x").is_ok());
        assert!(loc.resolve("https://evil.example.com/x").is_err());
        assert!(loc.resolve("http://lib.example.com/x").is_err());
        assert!(loc.resolve("//evil.example.com/x").is_err());
        assert!(loc.resolve("../x").is_err());
    }

    #[test]
    fn directory_urls_name_lib_json() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let loc = Location::new(
            Url::parse("http://h:8080/lib/").unwrap(),
            &TlsOptions::default(),
            None,
        )
        .unwrap();
        assert_eq!(loc.lib_url().as_str(), "http://h:8080/lib/lib.json");
        assert!(
            Location::new(
                Url::parse("ftp://h/lib.json").unwrap(),
                &TlsOptions::default(),
                None
            )
            .is_err()
        );
    }

    #[tokio::test]
    async fn symlinks_out_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.ovf"), b"secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.ovf"),
            dir.path().join("link.ovf"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("ok.ovf"), b"fine").unwrap();
        let loc = file_location(dir.path());
        for href in ["link.ovf", "sub/secret.ovf"] {
            let url = loc.resolve(href).unwrap();
            let err = loc.read(&url, 100, "descriptor").await.unwrap_err();
            assert!(err.to_string().contains("outside the library"), "{err}");
        }
        let ok = loc.resolve("ok.ovf").unwrap();
        assert_eq!(
            loc.read(&ok, 100, "descriptor").await.unwrap().unwrap(),
            b"fine"
        );
        let missing = loc.resolve("missing.ovf").unwrap();
        assert_eq!(loc.read(&missing, 100, "descriptor").await.unwrap(), None);
    }

    /// `base/team-a/` is the allowed prefix; `base/team-b/` another tenant's folder.
    fn tenant_dirs() -> (tempfile::TempDir, PathBuf, Guard) {
        let base = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(base.path()).unwrap();
        for (dir, body) in [("team-a/lib", "mine"), ("team-b", "theirs")] {
            std::fs::create_dir_all(real.join(dir)).unwrap();
            std::fs::write(real.join(dir).join("lib.json"), body).unwrap();
            std::fs::write(real.join(dir).join("a.ovf"), body).unwrap();
        }
        let prefix = Url::from_directory_path(real.join("team-a")).unwrap();
        let policy = SourcePolicy {
            namespaced_schemes: vec!["file".into()],
            namespaced_allowed: vec![
                crate::source::policy::AllowEntry::parse(prefix.as_str()).unwrap(),
            ],
            ..SourcePolicy::default()
        };
        let guard = Guard {
            policy: Arc::new(policy),
            scope: Scope::Namespaced,
        };
        (base, real, guard)
    }

    fn guarded(url: Url, guard: &Guard) -> Result<Location, SourceError> {
        Location::new(url, &TlsOptions::default(), Some(guard.clone()))
    }

    fn assert_refused(err: SourceError, real: &str) {
        assert_eq!(err.reason(), "SourceHostNotAllowed", "{err}");
        let shown = err.to_string();
        assert!(shown.contains("--source-allowed-prefixes"), "{shown}");
        assert!(shown.contains(real), "{shown} names where it leads");
    }

    #[tokio::test]
    async fn file_prefixes_hold_after_symlinks_are_resolved() {
        let (_base, real, guard) = tenant_dirs();
        let a = real.join("team-a");
        // A library folder that is a symlink to another tenant's folder, and to /etc.
        std::os::unix::fs::symlink(real.join("team-b"), a.join("b-lib")).unwrap();
        std::os::unix::fs::symlink("/etc", a.join("etc")).unwrap();
        // A file of a library inside the prefix that is a symlink to another tenant's.
        std::os::unix::fs::symlink(real.join("team-b/a.ovf"), a.join("lib/b.ovf")).unwrap();

        // The library's own URL looks allowed; where it leads is not.
        let loc = guarded(Url::from_directory_path(a.join("b-lib")).unwrap(), &guard).unwrap();
        let err = loc.read(loc.lib_url(), 100, "lib.json").await.unwrap_err();
        assert_refused(err, "team-b/lib.json");
        let loc = guarded(Url::from_file_path(a.join("etc/hostname")).unwrap(), &guard).unwrap();
        if Path::new("/etc/hostname").is_file() {
            let err = loc
                .read(loc.lib_url(), 1 << 20, "lib.json")
                .await
                .unwrap_err();
            assert_refused(err, "file:///etc/hostname");
        }

        // Inside the prefix: read. A file symlinked to another tenant's: refused by the policy
        // (before the rule that files stay in the library's folder, which refuses it too).
        let loc = guarded(Url::from_directory_path(a.join("lib")).unwrap(), &guard).unwrap();
        assert_eq!(
            loc.read(loc.lib_url(), 100, "lib.json")
                .await
                .unwrap()
                .unwrap(),
            b"mine"
        );
        let ok = loc.resolve("a.ovf").unwrap();
        assert_eq!(
            loc.read(&ok, 100, "descriptor").await.unwrap().unwrap(),
            b"mine"
        );
        let out = loc.resolve("b.ovf").unwrap();
        let err = loc.read(&out, 100, "descriptor").await.unwrap_err();
        assert_refused(err, "team-b/a.ovf");
        let err = loc.ova_descriptor("i", &out).await.unwrap_err();
        assert_refused(err, "team-b/a.ovf");
        // `..` in a file URL is resolved before any check.
        let dotted = Url::parse(&format!("file://{}/lib/../../team-b/a.ovf", a.display())).unwrap();
        let err = loc.read(&dotted, 100, "descriptor").await.unwrap_err();
        assert_eq!(err.reason(), "SourceHostNotAllowed", "{err}");

        // Resolved inside the prefix is fine: a symlink from one folder of it to another.
        std::os::unix::fs::symlink(a.join("lib"), a.join("alias")).unwrap();
        let loc = guarded(Url::from_directory_path(a.join("alias")).unwrap(), &guard).unwrap();
        assert_eq!(
            loc.read(loc.lib_url(), 100, "lib.json")
                .await
                .unwrap()
                .unwrap(),
            b"mine"
        );
        // Nothing opened under a refused URL either.
        let err = guarded(
            Url::from_file_path(real.join("team-b/lib.json")).unwrap(),
            &guard,
        )
        .err()
        .unwrap();
        assert_eq!(err.reason(), "SourceHostNotAllowed");
    }

    #[tokio::test]
    async fn size_limit_applies_to_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.ovf"), vec![b'x'; 101]).unwrap();
        let loc = file_location(dir.path());
        let url = loc.resolve("big.ovf").unwrap();
        let err = loc.read(&url, 100, "OVF descriptor").await.unwrap_err();
        assert_eq!(err.reason(), "SourceTooLarge");
    }
}
