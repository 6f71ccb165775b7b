//! Reading an item's files through a download session: create the session, prepare the file,
//! poll until vCenter has it PREPARED, GET its download endpoint, delete the session.
//!
//! The download endpoint vCenter returns names a host (`https://vc.example.com/cls/data/...`),
//! which may differ from the configured URL (an IP, a load balancer name, vcsim's listen
//! address). The session id must only go to the configured vCenter, so when the origin differs
//! we keep the endpoint's path and query but send the request to the configured scheme, host
//! and port (logged at debug); the content library service is always on the vCenter itself.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use url::Url;

use super::api::DownloadFile;
use super::{Answer, VsphereClient};
use crate::source::http::{self, DOWNLOAD_TIMEOUT, OVA_TIMEOUT};
use crate::source::verify::{self, MAX_MANIFEST_BYTES};
use crate::source::{MAX_DESCRIPTOR_BYTES, SourceError, ova_stream};

const SESSION_PATH: &str = "/rest/com/vmware/content/library/item/download-session";
const FILE_PATH: &str = "/rest/com/vmware/content/library/item/downloadsession/file";
/// How long vCenter may take to prepare a file (it copies it from the datastore first).
pub(crate) const PREPARE_TIMEOUT: Duration = Duration::from_secs(120);

/// The OVF descriptor of an item with these files: the `.ovf` (checked against a `.mf` when the
/// item has one), or the descriptor inside an `.ova`.
pub(crate) async fn descriptor(
    client: &VsphereClient,
    item: &str,
    files: &[String],
) -> Result<Vec<u8>, SourceError> {
    let ovf = files.iter().find(|n| has_ext(n, "ovf"));
    let ova = files.iter().find(|n| has_ext(n, "ova"));
    let mf = ovf.and_then(|o| {
        let stem = &o[..o.len() - 4];
        files
            .iter()
            .find(|n| has_ext(n, "mf") && n[..n.len() - 3] == *stem)
    });
    if ovf.is_none() && ova.is_none() {
        return Err(SourceError::NoDescriptor {
            item: item.to_string(),
            message: format!("no .ovf or .ova file among {files:?}"),
        });
    }
    let session = Session::create(client, item).await?;
    let result = async {
        if let Some(ovf) = ovf {
            let bytes = session
                .read(ovf, MAX_DESCRIPTOR_BYTES, "OVF descriptor")
                .await?;
            if let Some(mf) = mf {
                let text = session.read(mf, MAX_MANIFEST_BYTES, "manifest").await?;
                verify::against_manifest(&text, ovf, &bytes).map_err(|message| {
                    SourceError::NotCompliant {
                        item: item.into(),
                        message,
                    }
                })?;
            }
            Ok(bytes)
        } else {
            let name = ova.expect("checked above");
            let resp = session.open(name, OVA_TIMEOUT).await?;
            ova_stream::descriptor_from_stream(item, resp.bytes_stream()).await
        }
    }
    .await;
    session.delete().await;
    result
}

fn has_ext(name: &str, ext: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, e)| !stem.is_empty() && e.eq_ignore_ascii_case(ext))
}

struct Session<'a> {
    client: &'a VsphereClient,
    id: String,
}

impl<'a> Session<'a> {
    async fn create(client: &'a VsphereClient, item: &str) -> Result<Session<'a>, SourceError> {
        let body = json!({ "create_spec": { "library_item_id": item } });
        match client
            .call::<String>(Method::POST, SESSION_PATH, &[], Some(&body))
            .await?
        {
            Answer::Value(id) if !id.is_empty() => Ok(Session { client, id }),
            Answer::NotFound => Err(SourceError::ItemNotFound(item.to_string())),
            _ => Err(SourceError::InvalidResponse(
                "download session answer holds no id".into(),
            )),
        }
    }

    /// Best effort: vCenter expires forgotten sessions itself.
    async fn delete(self) {
        let path = format!("{SESSION_PATH}/id:{}", self.id);
        if let Err(e) = self
            .client
            .call::<serde_json::Value>(Method::DELETE, &path, &[], None)
            .await
        {
            tracing::debug!(session = %self.id, error = %e, "cannot delete download session");
        }
    }

    async fn file_action(
        &self,
        action: &str,
        body: serde_json::Value,
    ) -> Result<DownloadFile, SourceError> {
        let path = format!("{FILE_PATH}/id:{}", self.id);
        match self
            .client
            .call(Method::POST, &path, &[("~action", action)], Some(&body))
            .await?
        {
            Answer::Value(file) => Ok(file),
            _ => Err(SourceError::InvalidResponse(format!(
                "download session {action} answered no file"
            ))),
        }
    }

    /// Prepares `name` and waits until vCenter serves it; returns the endpoint.
    async fn prepare(&self, name: &str) -> Result<Url, SourceError> {
        let mut file = self
            .file_action(
                "prepare",
                json!({ "file_name": name, "endpoint_type": "HTTPS" }),
            )
            .await?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            match file.status.as_str() {
                "PREPARED" => break,
                "ERROR" => {
                    let why = file
                        .error_message
                        .map(|m| m.default_message)
                        .unwrap_or_default();
                    return Err(SourceError::Unreachable {
                        url: self.client.inner.base.to_string(),
                        message: format!("vCenter could not prepare {name} for download: {why}"),
                    });
                }
                _ if started.elapsed() > PREPARE_TIMEOUT => {
                    return Err(SourceError::Unreachable {
                        url: self.client.inner.base.to_string(),
                        message: format!(
                            "{name} was not prepared for download within {PREPARE_TIMEOUT:?}"
                        ),
                    });
                }
                _ => {}
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            file = self
                .file_action("get", json!({ "file_name": name }))
                .await?;
        }
        let uri = file.download_endpoint.map(|e| e.uri).unwrap_or_default();
        let endpoint = Url::parse(&uri).map_err(|e| {
            SourceError::InvalidResponse(format!("download endpoint of {name} is not a URL: {e}"))
        })?;
        Ok(self.on_configured_origin(endpoint))
    }

    fn on_configured_origin(&self, endpoint: Url) -> Url {
        let base = &self.client.inner.base;
        if http::same_origin(&endpoint, base) {
            return endpoint;
        }
        let mut moved = base.clone();
        moved.set_path(endpoint.path());
        moved.set_query(endpoint.query());
        tracing::debug!(
            endpoint_host = endpoint.host_str().unwrap_or(""),
            configured = %base,
            "download endpoint names another host; fetching it from the configured vCenter"
        );
        moved
    }

    /// Starts downloading `name`; the caller reads the body.
    async fn open(&self, name: &str, timeout: Duration) -> Result<reqwest::Response, SourceError> {
        let url = self.prepare(name).await?;
        let resp = self
            .client
            .send(&url, |c| c.get(url.clone()).timeout(timeout))
            .await?;
        http::check_status(&url, resp).await
    }

    async fn read(&self, name: &str, limit: u64, what: &str) -> Result<Vec<u8>, SourceError> {
        let resp = self.open(name, DOWNLOAD_TIMEOUT).await?;
        http::read_limited(resp, limit, &format!("{what} {name}")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert!(has_ext("a.OVF", "ovf"));
        assert!(!has_ext(".ovf", "ovf"));
        assert!(!has_ext("a.ovf.bak", "ovf"));
    }
}
