//! The webhook on loopback: a throwaway CA and serving certificate, the server on a random port,
//! and an HTTPS client that trusts only that CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use vmi_operator::webhook::{
    ImageIndex, WebhookConfig, WebhookError, WebhookMetrics, WebhookServer,
};

/// A CA and a serving certificate for `IP:127.0.0.1` and `DNS:localhost`, written as PEM files.
pub struct TestPki {
    pub ca_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestPki {
    /// Generates a fresh CA and serving certificate into `dir` (`tls.crt`, `tls.key`).
    pub fn generate(dir: &Path) -> TestPki {
        let pki = TestPki {
            ca_pem: String::new(),
            cert_path: dir.join("tls.crt"),
            key_path: dir.join("tls.key"),
        };
        pki.rotate()
    }

    /// Writes a new CA and serving certificate over the same files (as cert-manager does) and
    /// returns the new state.
    pub fn rotate(self) -> TestPki {
        let (ca_pem, cert_pem, key_pem) = generate_chain();
        // Write to temporary names and rename, so a reader never sees a half-written file.
        for (path, pem) in [(&self.key_path, &key_pem), (&self.cert_path, &cert_pem)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, pem).expect("write PEM");
            std::fs::rename(&tmp, path).expect("rename PEM");
        }
        TestPki { ca_pem, ..self }
    }

    /// The CA as `caBundle` (base64 of the PEM).
    pub fn ca_bundle(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }

    pub fn webhook_config(&self, addr: SocketAddr) -> WebhookConfig {
        WebhookConfig {
            addr,
            cert_path: self.cert_path.clone(),
            key_path: self.key_path.clone(),
        }
    }
}

/// (CA PEM, serving certificate PEM, serving key PEM).
fn generate_chain() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "vmi-operator webhook test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-signed CA");
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().expect("serving key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("serving params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    params
        .distinguished_name
        .push(DnType::CommonName, "vmware-system-vmop-webhook-service");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &issuer)
        .expect("serving certificate");
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// A running webhook server; stops when dropped or on [`RunningWebhook::stop`].
pub struct RunningWebhook {
    pub addr: SocketAddr,
    pub metrics: WebhookMetrics,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), WebhookError>>>,
}

impl RunningWebhook {
    /// Binds 127.0.0.1 on a random port and serves `index` (checking the certificate files every
    /// `reload` interval).
    pub async fn start(
        pki: &TestPki,
        index: ImageIndex,
        reload: std::time::Duration,
    ) -> RunningWebhook {
        let server = WebhookServer::bind(pki.webhook_config(SocketAddr::from(([127, 0, 0, 1], 0))))
            .await
            .expect("bind the webhook")
            .with_reload_interval(reload);
        let addr = server.local_addr();
        let metrics = WebhookMetrics::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(index, metrics.clone(), async move {
            let _ = stopped.await;
        }));
        RunningWebhook {
            addr,
            metrics,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("webhook task").expect("webhook server");
        }
    }
}

impl Drop for RunningWebhook {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A reqwest client that trusts only `ca_pem`.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("https client")
}
