//! The OCI archive of `make image` (hack/image/oci-image.py): its config is the Dockerfile's final
//! stage, and its one layer holds the binary, CA certificates and a passwd for the non-root user,
//! and no shell.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{R, ROOT, ensure};

fn read_tar(bytes: &[u8]) -> R<BTreeMap<String, (u32, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(bytes);
    for e in ar.entries().map_err(|e| e.to_string())? {
        let mut e = e.map_err(|e| e.to_string())?;
        let path = e
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let mode = e.header().mode().map_err(|e| e.to_string())?;
        let mut data = Vec::new();
        e.read_to_end(&mut data).map_err(|e| e.to_string())?;
        out.insert(path.trim_end_matches('/').to_string(), (mode, data));
    }
    Ok(out)
}

/// USER, ENTRYPOINT and CMD of the Dockerfile's last stage.
fn dockerfile_final_stage() -> R<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).map_err(|e| e.to_string())?;
    let mut stage = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "FROM" => stage.clear(),
            "USER" | "ENTRYPOINT" | "CMD" => {
                stage.insert(word.to_string(), rest.trim().to_string());
            }
            _ => {}
        }
    }
    Ok(stage)
}

fn blob<'a>(files: &'a BTreeMap<String, (u32, Vec<u8>)>, digest: &Value) -> R<&'a [u8]> {
    let d = digest.as_str().ok_or("no digest")?;
    let hex = d.strip_prefix("sha256:").ok_or("not sha256")?;
    let (_, data) = files
        .get(&format!("blobs/sha256/{hex}"))
        .ok_or(format!("no blob {d}"))?;
    ensure(format!("{:x}", Sha256::digest(data)) == hex, || {
        format!("blob {d}: wrong digest")
    })?;
    Ok(data)
}

pub fn archive_config() -> R {
    let path = Path::new(ROOT).join("target/image/vmi-operator.tar");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let files = read_tar(&bytes)?;
    let index: Value = serde_json::from_slice(&files.get("index.json").ok_or("no index.json")?.1)
        .map_err(|e| e.to_string())?;
    let desc = &index["manifests"][0];
    ensure(
        desc["annotations"]["io.containerd.image.name"].is_string(),
        || format!("{desc}"),
    )?;
    let manifest: Value =
        serde_json::from_slice(blob(&files, &desc["digest"])?).map_err(|e| e.to_string())?;
    let config: Value = serde_json::from_slice(blob(&files, &manifest["config"]["digest"])?)
        .map_err(|e| e.to_string())?;
    let layers = manifest["layers"].as_array().ok_or("no layers")?;
    ensure(layers.len() == 1, || format!("{} layers", layers.len()))?;
    ensure(
        layers[0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar",
        || format!("{}", layers[0]),
    )?;

    // The config is the Dockerfile's: USER (non-root, numeric), ENTRYPOINT, CMD.
    let c = &config["config"];
    let df = dockerfile_final_stage()?;
    let user = c["User"].as_str().unwrap_or_default();
    ensure(Some(user) == df.get("USER").map(String::as_str), || {
        format!("User {user:?}, Dockerfile {df:?}")
    })?;
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| format!("User {user:?} is not numeric"))?;
    ensure(uid != 0, || "runs as root".into())?;
    for (key, word) in [("Entrypoint", "ENTRYPOINT"), ("Cmd", "CMD")] {
        let want: Value = serde_json::from_str(df.get(word).ok_or(format!("no {word}"))?)
            .map_err(|e| e.to_string())?;
        ensure(c[key] == want, || {
            format!("{key} {}, Dockerfile {want}", c[key])
        })?;
    }
    ensure(
        c["Entrypoint"] == serde_json::json!(["/vmi-operator"]),
        || format!("{}", c["Entrypoint"]),
    )?;

    // The layer: the binary, CA certificates, the user in /etc/passwd, and no shell.
    let layer = read_tar(blob(&files, &layers[0]["digest"])?)?;
    ensure(
        format!(
            "sha256:{:x}",
            Sha256::digest(blob(&files, &layers[0]["digest"])?)
        ) == config["rootfs"]["diff_ids"][0],
        || "diff_id".into(),
    )?;
    let (mode, bin) = layer.get("vmi-operator").ok_or("no /vmi-operator")?;
    ensure(mode & 0o111 != 0 && bin.starts_with(b"\x7fELF"), || {
        "/vmi-operator is not an executable ELF".into()
    })?;
    let ca = &layer
        .get("etc/ssl/certs/ca-certificates.crt")
        .ok_or("no CA bundle")?
        .1;
    ensure(
        String::from_utf8_lossy(ca)
            .matches("BEGIN CERTIFICATE")
            .count()
            > 10,
        || "CA bundle without certificates".into(),
    )?;
    let passwd =
        String::from_utf8_lossy(&layer.get("etc/passwd").ok_or("no /etc/passwd")?.1).into_owned();
    ensure(
        passwd
            .lines()
            .any(|l| l.split(':').nth(2) == Some(&uid.to_string())),
        || format!("uid {uid} not in /etc/passwd:\n{passwd}"),
    )?;
    for p in layer.keys() {
        let name = p.rsplit('/').next().unwrap_or_default();
        ensure(
            !["sh", "bash", "dash", "ash", "busybox"].contains(&name),
            || format!("a shell in the image: /{p}"),
        )?;
    }
    Ok(())
}
