//! Where a published library lives (a directory or an http(s) URL) and the rules for following
//! its hrefs.
//!
//! - A `file://` library reads nothing outside its directory: hrefs with `..` segments or
//!   absolute ones are refused, and every path is checked again after resolving symlinks.
//! - An http(s) library follows hrefs relative to its URL and absolute ones on its own origin
//!   (scheme, host, port), and redirects only within that origin. Credentials in the URL's user
//!   info are sent as basic auth and never shown.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use reqwest::redirect::{Attempt, Policy};
use url::Url;

use std::time::Duration;

use crate::source::http::{self, DOWNLOAD_TIMEOUT, OVA_TIMEOUT, TlsOptions};
use crate::source::policy::{PolicyResolver, Scope, SourcePolicy};
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
                    let Some(path) = confined(root, url).await? else {
                        return Ok(None);
                    };
                    let (what, shown) = (what.to_string(), url.to_string());
                    tokio::task::spawn_blocking(move || read_file(&path, limit, &what, &shown))
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
                    let Some(path) = confined(root, url).await? else {
                        return Ok(None);
                    };
                    let file = std::fs::File::open(&path).map_err(|e| io_error(url.as_str(), e))?;
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

/// The path `url` names once symlinks are resolved, if it exists and stays inside `root`.
async fn confined(root: &Path, url: &Url) -> Result<Option<PathBuf>, SourceError> {
    let path = url
        .to_file_path()
        .map_err(|()| SourceError::InvalidResponse(format!("{url} is not a local path")))?;
    let root_real = match tokio::fs::canonicalize(root).await {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&root.display().to_string(), e)),
    };
    let real = match tokio::fs::canonicalize(&path).await {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(url.as_str(), e)),
    };
    if !real.starts_with(&root_real) {
        return Err(SourceError::InvalidResponse(format!(
            "refusing {url}: it resolves outside the library directory {}",
            root.display()
        )));
    }
    // Only regular files: opening a named pipe (or a device) would block the reader for good.
    let meta = tokio::fs::metadata(&real)
        .await
        .map_err(|e| io_error(url.as_str(), e))?;
    if !meta.is_file() {
        return Err(SourceError::InvalidResponse(format!(
            "{url} is not a regular file"
        )));
    }
    Ok(Some(real))
}

fn read_file(path: &Path, limit: u64, what: &str, shown: &str) -> Result<Vec<u8>, SourceError> {
    let file = std::fs::File::open(path).map_err(|e| io_error(shown, e))?;
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
