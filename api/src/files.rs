//! Object storage for uploaded evidence, behind one interface: a local directory by default,
//! S3-compatible storage when `S3_BUCKET` is set (through the maintained `object_store`
//! crate). The event log records name, size, media type and SHA-256; bytes live only here.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};

/// Largest accepted upload by default (`ZIPPCRM_MAX_UPLOAD_BYTES`).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Where files go.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// A local directory.
    Local(std::path::PathBuf),
    /// S3-compatible storage.
    S3 {
        /// Endpoint URL (empty: AWS).
        endpoint: Option<String>,
        /// Bucket.
        bucket: String,
        /// Access key.
        access_key: Option<String>,
        /// Secret key.
        secret_key: Option<String>,
        /// Region.
        region: Option<String>,
    },
}

/// The file store.
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    /// Largest accepted upload.
    pub max_bytes: usize,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("store", &self.store.to_string())
            .field("max_bytes", &self.max_bytes)
            .finish()
    }
}

/// Media types accepted as evidence, with how to recognise their content.
const ACCEPTED: [(&str, &[&str]); 6] = [
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &["docx"],
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &["xlsx"],
    ),
    ("text/csv", &["csv"]),
];

/// The media types accepted, for messages and docs.
pub fn accepted_types() -> Vec<&'static str> {
    ACCEPTED.iter().map(|(t, _)| *t).collect()
}

fn content_matches(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(b"\xff\xd8\xff"),
        // Office Open XML files are ZIP archives.
        t if t.starts_with("application/vnd.openxmlformats") => bytes.starts_with(b"PK\x03\x04"),
        "text/csv" => std::str::from_utf8(bytes).is_ok() && !bytes.contains(&0),
        _ => false,
    }
}

/// Checks an upload and names its media type, or says why it is refused.
pub fn check(
    file_name: &str,
    declared_type: Option<&str>,
    bytes: &[u8],
    max_bytes: usize,
) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > max_bytes {
        return Err(format!(
            "the file is {} bytes; the limit is {max_bytes} bytes",
            bytes.len()
        ));
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let declared = declared_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|t| !t.is_empty() && t != "application/octet-stream");
    let found = ACCEPTED.iter().find(|(t, exts)| match &declared {
        Some(declared) => declared == t,
        None => exts.contains(&extension.as_str()),
    });
    let Some((media_type, _)) = found else {
        return Err(format!(
            "files of this type are not accepted; send one of: {}",
            accepted_types().join(", ")
        ));
    };
    if !content_matches(media_type, bytes) {
        return Err(format!("the content is not a valid {media_type} file"));
    }
    Ok(media_type)
}

/// Hex SHA-256.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl FileStore {
    /// Opens the store.
    pub fn open(config: &StorageConfig, max_bytes: usize) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match config {
            StorageConfig::Local(dir) => {
                std::fs::create_dir_all(dir)?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?)
            }
            StorageConfig::S3 {
                endpoint,
                bucket,
                access_key,
                secret_key,
                region,
            } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(key), Some(secret)) = (access_key, secret_key) {
                    builder = builder
                        .with_access_key_id(key)
                        .with_secret_access_key(secret);
                }
                builder = builder.with_region(region.as_deref().unwrap_or("us-east-1"));
                Arc::new(builder.build()?)
            }
        };
        Ok(Self { store, max_bytes })
    }

    /// Stores `bytes` under `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// Reads `key`.
    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&Path::from(key)).await?.bytes().await
    }

    /// Deletes `key` (used to undo a put whose event could not be appended).
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        self.store.delete(&Path::from(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_match_the_type() {
        assert_eq!(
            check("a.pdf", Some("application/pdf"), b"%PDF-1.7 ...", 100),
            Ok("application/pdf")
        );
        assert_eq!(
            check("a.pdf", None, b"%PDF-1.7 ...", 100),
            Ok("application/pdf")
        );
        assert!(check("a.pdf", Some("application/pdf"), b"MZ\x90\x00", 100).is_err());
        assert!(check("a.exe", Some("application/x-msdownload"), b"MZ", 100).is_err());
        assert!(check("a.pdf", None, b"%PDF-1.7 and much more", 10).is_err());
        assert!(check("a.pdf", None, b"", 10).is_err());
    }
}
