//! The Dockerfile, without a Docker engine: `hack/check-dockerfile.sh --static` passes on it and
//! catches the mistakes it is there for; the image's user and ports are those the Helm chart and
//! config/manager expect. The full check (the builder's cargo build for the musl target, the binary's
//! size) is `make check-dockerfile`: too slow for a test, and it would build in cargo's locked
//! target folder.

use std::path::Path;
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check(dockerfile: &Path) -> Output {
    Command::new(repo().join("hack/check-dockerfile.sh"))
        .arg("--static")
        .arg(dockerfile)
        .output()
        .expect("run hack/check-dockerfile.sh")
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).expect("read Dockerfile")
}

#[test]
fn dockerfile_passes_the_static_checks() {
    let out = check(&repo().join("Dockerfile"));
    assert!(
        out.status.success(),
        "hack/check-dockerfile.sh --static failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Each broken Dockerfile, in a context with the files the real one copies, fails the check with
/// the expected message.
#[test]
fn checker_catches_broken_dockerfiles() {
    let context = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dockerfile-check");
    let _ = std::fs::remove_dir_all(&context);
    for dir in ["src", "benches", "test-support", "hack/bench"] {
        std::fs::create_dir_all(context.join(dir)).unwrap();
    }
    for f in ["Cargo.toml", "Cargo.lock"] {
        std::fs::write(context.join(f), "").unwrap();
    }
    std::fs::copy(repo().join(".dockerignore"), context.join(".dockerignore")).unwrap();

    let original = dockerfile();
    let cases: [(&str, &str, &str); 9] = [
        ("USER 65532:65532", "USER 0", "is root"),
        ("USER 65532:65532", "USER nonroot", "numeric uid"),
        ("USER 65532:65532\n", "", "no USER"),
        ("CMD [\"run\"]", "CMD run", "exec form"),
        ("--from=builder", "--from=bulder", "names no earlier stage"),
        (
            "gcr.io/distroless/static-debian12:nonroot",
            "debian:bookworm-slim",
            "expected gcr.io/distroless/static",
        ),
        (" --locked", "", "--locked"),
        ("COPY src ./src", "COPY sources ./src", "does not exist"),
        ("FROM rust:", "FORM rust:", "unknown instruction"),
    ];
    for (from, to, expected) in cases {
        assert!(original.contains(from), "the Dockerfile has no {from:?}");
        let path = context.join("Dockerfile");
        std::fs::write(&path, original.replacen(from, to, 1)).unwrap();
        let out = check(&path);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(expected),
            "replacing {from:?} by {to:?}: expected a failure naming {expected:?}, got {}:\n{err}",
            out.status
        );
    }

    // A .dockerignore that lets target/ in, or keeps src/ out.
    std::fs::write(context.join("Dockerfile"), &original).unwrap();
    std::fs::write(
        context.join(".dockerignore"),
        "*\n!Cargo.toml\n!Cargo.lock\n!benches/\n",
    )
    .unwrap();
    let err = String::from_utf8_lossy(&check(&context.join("Dockerfile")).stderr).into_owned();
    assert!(err.contains("excludes 'src'"), "{err}");
    std::fs::write(context.join(".dockerignore"), ".git\n").unwrap();
    let err = String::from_utf8_lossy(&check(&context.join("Dockerfile")).stderr).into_owned();
    assert!(err.contains("does not exclude target"), "{err}");
}

/// The image's user is the pod's runAsUser (chart and config/manager), and it exposes the ports the
/// pod declares.
#[test]
fn image_user_and_ports_match_the_deployments() {
    let text = dockerfile();
    let user = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("numeric uid");
    let values = std::fs::read_to_string(repo().join("charts/vmi-operator/values.yaml")).unwrap();
    let manager = std::fs::read_to_string(repo().join("config/manager/manager.yaml")).unwrap();
    for (what, yaml) in [("values.yaml", &values), ("config/manager", &manager)] {
        assert!(
            yaml.contains(&format!("runAsUser: {uid}")),
            "{what} does not run as the image's uid {uid}"
        );
    }
    let exposed = text
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    for port in ["8080", "9443"] {
        assert!(
            exposed.split_whitespace().any(|p| p == port),
            "EXPOSE lacks {port}"
        );
        assert!(manager.contains(&format!("containerPort: {port}")));
    }
}
