//! Two network namespaces of our own joined by a veth pair, for cases that need an address
//! other than loopback: the "operator" side (`a`) and a test host (`b`). Nothing outside them is
//! touched; both are deleted when the pair is dropped.
//!
//! Code runs inside a namespace on a thread of its own that joined it (`setns`), with a
//! current-thread runtime, so every socket it opens lives there.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct NetPair {
    pub a: String,
    pub b: String,
    pub addr_a: Ipv4Addr,
    pub addr_b: Ipv4Addr,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {} (these tests need root, for network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetPair {
    pub fn create() -> NetPair {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{}", std::process::id() % 100_000, n);
        let (a, b) = (format!("vmipol{tag}a"), format!("vmipol{tag}b"));
        // Addresses from a block private to the pair's two namespaces.
        let third = ((std::process::id() + n) % 250) as u8;
        let addr_a = Ipv4Addr::new(10, 213, third, 1);
        let addr_b = Ipv4Addr::new(10, 213, third, 2);
        let pair = NetPair {
            a: a.clone(),
            b: b.clone(),
            addr_a,
            addr_b,
        };
        ip(&["netns", "add", &a]);
        ip(&["netns", "add", &b]);
        let (va, vb) = (format!("vp{tag}a"), format!("vp{tag}b"));
        ip(&[
            "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
        ]);
        for (ns, dev, addr) in [(&a, &va, addr_a), (&b, &vb, addr_b)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        pair
    }

    /// Runs `f` on a thread inside namespace `ns`, with a current-thread runtime.
    pub fn spawn_in<T, F>(ns: &str, f: F) -> std::thread::JoinHandle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on this thread only, with an fd we hold open.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// Runs an async body to completion inside namespace `ns`.
    pub fn block_in<T, Fut>(ns: &str, f: impl FnOnce() -> Fut + Send + 'static) -> T
    where
        T: Send + 'static,
        Fut: std::future::Future<Output = T>,
    {
        Self::spawn_in(ns, move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(f())
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
