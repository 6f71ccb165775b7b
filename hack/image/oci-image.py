#!/usr/bin/env python3
"""Writes a container image as an OCI image-layout tar, without Docker or a registry.

One uncompressed layer, its config, a manifest and an index; every timestamp is SOURCE_DATE_EPOCH
(default 0) and entries are sorted, so the same inputs give the same bytes and the same digest.
`ctr -n k8s.io images import FILE` loads it (the name is the io.containerd.image.name annotation).

  hack/oci-image.py --out OUT.tar --name REF [--dockerfile Dockerfile] [--distroless-nonroot]
                    [--user U:G] [--entrypoint JSON] [--cmd JSON] [--label K=V]... FILE...

FILE is DEST=SRC[:MODE] (MODE octal, default 0755 for files given here).

--dockerfile takes USER, ENTRYPOINT, CMD, EXPOSE and LABEL of the Dockerfile's final stage, so the
archive's config is the one `docker build` gives (tests/node checks both against each other).
--distroless-nonroot adds what the Dockerfile's base, gcr.io/distroless/static-debian12:nonroot,
holds that the operator relies on, with the same contents and owners: /etc/passwd and /etc/group
(root, nobody, nonroot 65532), the Debian CA bundle at /etc/ssl/certs/ca-certificates.crt,
/home/nonroot (65532, 0700), /tmp (1777), and the base's PATH, SSL_CERT_FILE and WorkingDir.
distroless also ships tzdata, /etc/os-release and dpkg status files; the operator reads none of them,
so they are left out here (the only difference from `docker build`'s filesystem).
"""

import argparse
import hashlib
import io
import json
import os
import re
import shlex
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
)
GROUP = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def final_stage(dockerfile):
    """USER, ENTRYPOINT, CMD, EXPOSE, LABEL of the last stage (continuations joined)."""
    text = open(dockerfile, encoding="utf-8").read()
    lines, cur = [], ""
    for raw in text.splitlines():
        if not cur and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if cur and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        lines.append((cur + raw).strip())
        cur = ""
    stage = []
    for line in lines:
        if line.split(None, 1)[0].upper() == "FROM":
            stage = []
        else:
            stage.append(line)
    out = {"labels": {}, "expose": []}
    for line in stage:
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word == "USER":
            out["user"] = rest
        elif word in ("ENTRYPOINT", "CMD"):
            out[word.lower()] = json.loads(rest)
        elif word == "EXPOSE":
            out["expose"] += rest.split()
        elif word == "LABEL":
            for pair in shlex.split(rest):
                k, _, v = pair.partition("=")
                out["labels"][k] = v
    return out


def tar_bytes(entries):
    """entries: {path: (kind, data, mode, uid, gid)}; parents are added as root 0755 directories."""
    for path in list(entries):
        parts = path.split("/")
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), ("dir", None, 0o755, 0, 0))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(entries):
            kind, data, mode, uid, gid = entries[path]
            info = tarfile.TarInfo(path + ("/" if kind == "dir" else ""))
            info.mtime, info.mode, info.uid, info.gid = EPOCH, mode, uid, gid
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--dockerfile")
    ap.add_argument("--distroless-nonroot", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()

    cfg = {"Env": [], "Labels": {}}
    entries = {}
    if a.distroless_nonroot:
        cfg["Env"] = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SSL_CERT_FILE=" + CA_BUNDLE,
        ]
        cfg["WorkingDir"] = "/home/nonroot"
        cfg["User"] = "65532"
        entries["etc/passwd"] = ("file", PASSWD.encode(), 0o644, 0, 0)
        entries["etc/group"] = ("file", GROUP.encode(), 0o644, 0, 0)
        entries[CA_BUNDLE[1:]] = ("file", open(CA_BUNDLE, "rb").read(), 0o644, 0, 0)
        entries["home/nonroot"] = ("dir", None, 0o700, 65532, 65532)
        entries["tmp"] = ("dir", None, 0o1777, 0, 0)
    if a.dockerfile:
        st = final_stage(a.dockerfile)
        if "user" in st:
            cfg["User"] = st["user"]
        if "entrypoint" in st:
            cfg["Entrypoint"] = st["entrypoint"]
        if "cmd" in st:
            cfg["Cmd"] = st["cmd"]
        if st["expose"]:
            cfg["ExposedPorts"] = {
                (p if "/" in p else p + "/tcp"): {} for p in st["expose"]
            }
        cfg["Labels"].update(st["labels"])
    if a.user:
        cfg["User"] = a.user
    if a.entrypoint:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        cfg["Cmd"] = json.loads(a.cmd)
    for kv in a.label:
        k, _, v = kv.partition("=")
        cfg["Labels"][k] = v
    for spec in a.files:
        m = re.fullmatch(r"/?([^=]+)=([^:]+)(?::([0-7]+))?", spec)
        if not m:
            sys.exit(f"oci-image: bad FILE {spec!r} (DEST=SRC[:MODE])")
        dest, src, mode = m.group(1), m.group(2), int(m.group(3) or "755", 8)
        entries[dest] = ("file", open(src, "rb").read(), mode, 0, 0)

    layer = tar_bytes(entries)
    created = __import__("datetime").datetime.fromtimestamp(
        EPOCH, __import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = json.dumps({
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [blob(layer)]},
        "history": [{"created": created, "created_by": "hack/oci-image.py"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": blob(layer), "size": len(layer)}],
    }, sort_keys=True).encode()
    tag = a.name.rsplit(":", 1)[1] if ":" in a.name.rsplit("/", 1)[-1] else "latest"
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": blob(manifest), "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": a.name,
                            "org.opencontainers.image.ref.name": tag},
        }],
    }, sort_keys=True).encode()

    out = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": index,
    }
    for data in (layer, config, manifest):
        out["blobs/sha256/" + blob(data)[7:]] = data
    archive = {p: ("file", d, 0o644, 0, 0) for p, d in out.items()}
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(tar_bytes(archive))
    os.replace(tmp, a.out)
    print(f"{a.out}: {a.name} {blob(manifest)} (layer {len(layer)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
