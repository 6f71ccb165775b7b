//! The descriptor of an item stored as an OVA, read with `crate::ovf::ova::read_ova` while the
//! archive streams in.
//!
//! `read_ova` takes a blocking `Read`; it runs on the blocking pool and pulls chunks from a
//! bounded channel that an async task fills from the download, so memory stays at a few chunks
//! plus the descriptor. `read_ova` reads the archive to its end: it checks every member the
//! manifest lists (disks included), which is what makes a mismatch mean non-compliance. An OVA
//! item therefore costs one full download per fetch; the sync fetches a descriptor once per
//! content version. When `read_ova` returns early (an error) the channel closes and the
//! download is cancelled.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::{MAX_DESCRIPTOR_BYTES, SourceError};
use crate::ovf::ova::{OvaError, read_ova};

/// Largest OVA we stream through `read_ova` (appliances are a few GiB; this stops an endless or
/// absurd stream, memory is bounded anyway).
pub(crate) const MAX_OVA_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// Why reading stopped, when the cause is on our side of `read_ova` (it only sees io errors).
#[derive(Default)]
struct Stop {
    too_large: bool,
    transport: Option<String>,
}

/// A `Read` that fails (instead of ending) once more than `limit` bytes were read, so a
/// truncated archive is never mistaken for a complete one.
struct Limited<R> {
    inner: R,
    read: u64,
    limit: u64,
    stop: Arc<Mutex<Stop>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            lock(&self.stop).too_large = true;
            return Err(io::Error::other("OVA size limit exceeded"));
        }
        Ok(n)
    }
}

/// Blocking side of the channel.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
    stop: Arc<Mutex<Stop>>,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(message)) => {
                    lock(&self.stop).transport = Some(message.clone());
                    return Err(io::Error::other(message));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

fn lock(stop: &Mutex<Stop>) -> std::sync::MutexGuard<'_, Stop> {
    stop.lock().unwrap_or_else(|e| e.into_inner())
}

/// The descriptor inside an OVA arriving as a byte stream (an HTTP body).
pub(crate) async fn descriptor_from_stream<S, E>(
    item: &str,
    stream: S,
) -> Result<Vec<u8>, SourceError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + 'static,
{
    let stop = Arc::new(Mutex::new(Stop::default()));
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let pump = tokio::spawn(async move {
        let mut stream = stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| super::http::chain(&e));
            let failed = chunk.is_err();
            // A closed channel means read_ova is done: stop downloading.
            if tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    let reader = ChannelReader {
        rx,
        current: Bytes::new(),
        stop: stop.clone(),
    };
    let result = read_blocking(item, reader, stop).await;
    pump.abort();
    result
}

/// The descriptor inside an OVA file on disk.
pub(crate) async fn descriptor_from_file(
    item: &str,
    file: std::fs::File,
) -> Result<Vec<u8>, SourceError> {
    let stop = Arc::new(Mutex::new(Stop::default()));
    read_blocking(item, file, stop).await
}

async fn read_blocking<R: Read + Send + 'static>(
    item: &str,
    reader: R,
    stop: Arc<Mutex<Stop>>,
) -> Result<Vec<u8>, SourceError> {
    let limited = Limited {
        inner: reader,
        read: 0,
        limit: MAX_OVA_BYTES,
        stop: stop.clone(),
    };
    let outcome = tokio::task::spawn_blocking(move || read_ova(limited))
        .await
        .map_err(|e| SourceError::NoDescriptor {
            item: item.to_string(),
            message: format!("OVA reader failed: {e}"),
        })?;
    let err = match outcome {
        Ok(ova) if ova.bytes.len() as u64 > MAX_DESCRIPTOR_BYTES => {
            return Err(SourceError::TooLarge {
                what: format!("OVF descriptor {}", ova.name),
                limit: MAX_DESCRIPTOR_BYTES,
            });
        }
        Ok(ova) => return Ok(ova.bytes),
        Err(err) => err,
    };
    let stop = lock(&stop);
    if stop.too_large {
        return Err(SourceError::TooLarge {
            what: "OVA".into(),
            limit: MAX_OVA_BYTES,
        });
    }
    if let Some(message) = &stop.transport {
        return Err(SourceError::Unreachable {
            url: format!("OVA of item {item}"),
            message: message.clone(),
        });
    }
    Err(ova_error(item, &err))
}

/// A manifest the archive fails (a digest mismatch, a listed member missing, the descriptor
/// not covered, a manifest that cannot be read) is non-compliance; anything else means there is
/// no usable descriptor.
fn ova_error(item: &str, err: &OvaError) -> SourceError {
    let message = err.to_string();
    let item = item.to_string();
    match err {
        OvaError::DigestMismatch { .. }
        | OvaError::ManifestMemberMissing { .. }
        | OvaError::DescriptorNotInManifest { .. }
        | OvaError::ManifestInvalid { .. }
        | OvaError::ManifestTooLarge { .. } => SourceError::NotCompliant { item, message },
        OvaError::DescriptorTooLarge { .. } => SourceError::TooLarge {
            what: message,
            limit: MAX_DESCRIPTOR_BYTES,
        },
        _ => SourceError::NoDescriptor { item, message },
    }
}
