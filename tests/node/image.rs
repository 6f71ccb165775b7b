//! The OCI archive of `make image` (hack/image/oci-image.py): its config is the Dockerfile's final
//! stage, and its one layer holds the binary, CA certificates and a passwd for the non-root user,
//! and no shell.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{R, ROOT, ensure, run};

/// Path -> (mode, contents) of a tar's entries.
type Files = BTreeMap<String, (u32, Vec<u8>)>;

fn read_tar(bytes: &[u8]) -> R<Files> {
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

fn blob<'a>(files: &'a Files, digest: &Value) -> R<&'a [u8]> {
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

/// The archive's image config (`.config`) and its layer's files.
fn ours() -> R<(Value, Files)> {
    let path = Path::new(ROOT).join("target/image/vmi-operator.tar");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let files = read_tar(&bytes)?;
    let index: Value = serde_json::from_slice(&files.get("index.json").ok_or("no index.json")?.1)
        .map_err(|e| e.to_string())?;
    let manifest: Value = serde_json::from_slice(blob(&files, &index["manifests"][0]["digest"])?)
        .map_err(|e| e.to_string())?;
    let config: Value = serde_json::from_slice(blob(&files, &manifest["config"]["digest"])?)
        .map_err(|e| e.to_string())?;
    let layer = read_tar(blob(&files, &manifest["layers"][0]["digest"])?)?;
    Ok((config["config"].clone(), layer))
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

/// Where a Docker engine answers: `docker build` of the Dockerfile gives the archive's config and
/// every file of its layer (the binary is built apart, so only its presence is compared; the CA
/// bundle may come from another ca-certificates release). Without an engine this says so and passes.
pub fn same_as_docker_build() -> R<bool> {
    let docker_up = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !docker_up {
        return Ok(false);
    }
    let tag = "vmi-operator:node-test-compare";
    let mut c = Command::new("docker");
    c.args(["build", "-q", "-t", tag, ROOT]);
    run(c, None)?;
    let mut c = Command::new("docker");
    c.args(["inspect", "--format", "{{json .Config}}", tag]);
    let theirs: Value = serde_json::from_str(&run(c, None)?).map_err(|e| e.to_string())?;
    let (ours, layer) = ours()?;
    for key in [
        "User",
        "Entrypoint",
        "Cmd",
        "ExposedPorts",
        "WorkingDir",
        "Env",
    ] {
        ensure(ours[key] == theirs[key], || {
            format!("{key}: archive {}, docker build {}", ours[key], theirs[key])
        })?;
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut c = Command::new("docker");
    c.args(["create", "--name", "vmi-node-test-compare", tag]);
    run(c, None)?;
    let mut c = Command::new("docker");
    c.args(["export", "-o"])
        .arg(dir.path().join("fs.tar"))
        .arg("vmi-node-test-compare");
    let exported = run(c, None);
    let mut c = Command::new("docker");
    c.args(["rm", "vmi-node-test-compare"]);
    let _ = run(c, None);
    exported?;
    let fs = read_tar(&std::fs::read(dir.path().join("fs.tar")).map_err(|e| e.to_string())?)?;
    for (path, (_, data)) in &layer {
        let theirs = fs
            .get(path)
            .ok_or(format!("/{path} is not in docker build's image"))?;
        if ["etc/passwd", "etc/group"].contains(&path.as_str()) {
            ensure(&theirs.1 == data, || {
                format!("/{path} differs from docker build's")
            })?;
        }
    }
    Ok(true)
}
