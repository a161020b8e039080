//! Object storage for uploaded evidence, behind one interface: a local directory by default,
//! S3-compatible storage when `S3_BUCKET` is set (through the maintained `object_store`
//! crate). The event log records name, size, media type and SHA-256; bytes live only here.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

/// A file being written to the store part by part; nothing is visible under its key until
/// [`Writer::finish`], and [`Writer::abort`] leaves nothing behind.
#[derive(Debug)]
pub struct Writer(WriteMultipart);

impl Writer {
    /// Writes the next chunk, waiting while two parts are still uploading (so memory stays
    /// at a few parts whatever the file's size).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), object_store::Error> {
        self.0.wait_for_capacity(2).await?;
        self.0.put(chunk);
        Ok(())
    }

    /// Completes the file.
    pub async fn finish(self) -> Result<(), object_store::Error> {
        self.0.finish().await.map(|_| ())
    }

    /// Drops what was written.
    pub async fn abort(self) {
        if let Err(error) = self.0.abort().await {
            tracing::warn!(%error, "could not abort a refused upload");
        }
    }
}

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
        bucket: String,
        access_key: Option<secrecy::SecretString>,
        secret_key: Option<secrecy::SecretString>,
        region: Option<String>,
    },
}

#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    /// Largest accepted upload.
    pub max_bytes: usize,
    /// Size of the parts a [`Writer`] sends (S3 needs at least 5 MiB but for the last).
    part_bytes: usize,
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
pub(crate) fn accepted_types() -> Vec<&'static str> {
    ACCEPTED.iter().map(|(t, _)| *t).collect()
}

/// Bytes of a file's start that [`content_matches`] looks at.
const HEAD: usize = 8;

fn content_matches(media_type: &str, head: &[u8], text: bool) -> bool {
    match media_type {
        "application/pdf" => head.starts_with(b"%PDF-"),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => head.starts_with(b"\xff\xd8\xff"),
        // Office Open XML files are ZIP archives.
        t if t.starts_with("application/vnd.openxmlformats") => head.starts_with(b"PK\x03\x04"),
        "text/csv" => text,
        _ => false,
    }
}

/// The media type an upload claims: its declared type, else its name's extension; and the
/// name's extension must be one of that type's (`invoice.pdf.exe` is no PDF).
pub(crate) fn claimed_type(
    file_name: &str,
    declared_type: Option<&str>,
) -> Result<&'static str, String> {
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
    let Some((media_type, extensions)) = found else {
        return Err(format!(
            "files of this type are not accepted; send one of: {}",
            accepted_types().join(", ")
        ));
    };
    if !extensions.contains(&extension.as_str()) {
        return Err(format!(
            "the file name must end in .{} for {media_type}",
            extensions.join(" or .")
        ));
    }
    Ok(media_type)
}

/// Tags that make text markup: the HTML signatures of the WHATWG MIME Sniffing standard
/// (what a browser takes for HTML) and the elements that run script or load content beside
/// them, each matched after `<` in any case. A CSV file holding one is refused: served
/// as an attachment with `nosniff` it is harmless to the browser, but not to whoever opens
/// it in one later or pastes it into a page.
const MARKUP_TAGS: [&[u8]; 30] = [
    b"!doctype html",
    b"html",
    b"head",
    b"script",
    b"iframe",
    b"h1",
    b"div",
    b"font",
    b"table",
    b"a",
    b"style",
    b"title",
    b"b",
    b"body",
    b"br",
    b"p",
    b"svg",
    b"math",
    b"img",
    b"object",
    b"embed",
    b"link",
    b"meta",
    b"form",
    b"base",
    b"frame",
    b"frameset",
    b"input",
    b"template",
    b"xml",
];

/// Bytes after a `<` that [`tag_at`] may need: the longest tag and its terminator.
const MARKUP_LOOKAHEAD: usize = 16;

/// Whether the bytes after a `<` open a markup tag: a comment, an XML declaration or
/// processing instruction (`<?`), or one of [`MARKUP_TAGS`] ended by a space, `>` or `/`
/// (or by the end of the file, `at_end`).
fn tag_at(after: &[u8], at_end: bool) -> bool {
    if after.starts_with(b"!--") || after.starts_with(b"?") {
        return true;
    }
    MARKUP_TAGS.iter().any(|tag| {
        after.len() >= tag.len()
            && after[..tag.len()].eq_ignore_ascii_case(tag)
            && match after.get(tag.len()) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'>' | b'/') => true,
                Some(_) => false,
                None => at_end,
            }
    })
}

/// What is learnt of a file as it streams past: size, SHA-256, its first bytes, whether
/// it is UTF-8 text without NUL and whether that text holds markup (for CSV), without
/// holding more than a few bytes of it.
#[derive(Debug)]
pub(crate) struct Inspector {
    size: usize,
    hasher: Sha256,
    head: Vec<u8>,
    /// The start of a UTF-8 sequence cut by a chunk's end.
    pending: Vec<u8>,
    /// Whether everything so far is UTF-8 without NUL.
    text: bool,
    /// The last bytes seen, whose `<`s are decided once more bytes (or the end) arrive.
    unscanned: Vec<u8>,
    /// Whether a markup tag was seen.
    markup: bool,
}

impl Default for Inspector {
    fn default() -> Self {
        Self {
            size: 0,
            hasher: Sha256::new(),
            head: Vec::with_capacity(HEAD),
            pending: Vec::new(),
            text: true,
            unscanned: Vec::new(),
            markup: false,
        }
    }
}

impl Inspector {
    /// Takes the next chunk.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.size += chunk.len();
        self.hasher.update(chunk);
        let wanted = HEAD.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..wanted]);
        if self.text {
            self.text = !chunk.contains(&0) && self.utf8(chunk);
        }
        if self.text && !self.markup {
            let mut seen = std::mem::take(&mut self.unscanned);
            seen.extend_from_slice(chunk);
            let decided = seen.len().saturating_sub(MARKUP_LOOKAHEAD);
            self.markup = Self::markup_in(&seen, decided, false);
            self.unscanned = seen.split_off(decided);
        }
    }

    /// Whether a `<` among the first `upto` bytes of `bytes` opens a markup tag.
    fn markup_in(bytes: &[u8], upto: usize, at_end: bool) -> bool {
        bytes[..upto]
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'<')
            .any(|(at, _)| tag_at(&bytes[at + 1..], at_end))
    }

    fn utf8(&mut self, chunk: &[u8]) -> bool {
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(chunk);
        match std::str::from_utf8(&joined) {
            Ok(_) => true,
            // Cut at the end: the rest comes with the next chunk.
            Err(e) if e.error_len().is_none() => {
                self.pending = joined[e.valid_up_to()..].to_vec();
                true
            }
            Err(_) => false,
        }
    }

    /// Bytes seen so far.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// After the last chunk: the size and SHA-256, or why the content does not fit
    /// `media_type`.
    pub(crate) fn finish(self, media_type: &str) -> Result<(usize, String), String> {
        if self.size == 0 {
            return Err("the file is empty".into());
        }
        let text = self.text && self.pending.is_empty();
        if !content_matches(media_type, &self.head, text) {
            return Err(format!("the content is not a valid {media_type} file"));
        }
        let markup = self.markup || Self::markup_in(&self.unscanned, self.unscanned.len(), true);
        if media_type == "text/csv" && markup {
            return Err(
                "the content is HTML or XML markup, not CSV: send the data as plain values".into(),
            );
        }
        Ok((self.size, hex::encode(self.hasher.finalize())))
    }
}

impl FileStore {
    /// Opens the store.
    pub fn open(config: &StorageConfig, max_bytes: usize) -> anyhow::Result<Self> {
        let (store, part_bytes): (Arc<dyn ObjectStore>, usize) = match config {
            StorageConfig::Local(dir) => {
                std::fs::create_dir_all(dir)?;
                (Arc::new(LocalFileSystem::new_with_prefix(dir)?), 256 * 1024)
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
                        .with_access_key_id(key.expose_secret())
                        .with_secret_access_key(secret.expose_secret());
                }
                builder = builder.with_region(region.as_deref().unwrap_or("us-east-1"));
                (Arc::new(builder.build()?), 5 * 1024 * 1024)
            }
        };
        Ok(Self {
            store,
            max_bytes,
            part_bytes,
        })
    }

    /// Starts writing a file under `key`, part by part.
    pub async fn writer(&self, key: &str) -> Result<Writer, object_store::Error> {
        let upload = self.store.put_multipart(&Path::from(key)).await?;
        Ok(Writer(WriteMultipart::new_with_chunk_size(
            upload,
            self.part_bytes,
        )))
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

    /// Checks a whole file in memory: its media type, or why not.
    fn check(
        file_name: &str,
        declared_type: Option<&str>,
        bytes: &[u8],
        max_bytes: usize,
    ) -> Result<&'static str, String> {
        if bytes.len() > max_bytes {
            return Err(format!(
                "the file is {} bytes; the limit is {max_bytes} bytes",
                bytes.len()
            ));
        }
        let media_type = claimed_type(file_name, declared_type)?;
        let mut inspector = Inspector::default();
        inspector.feed(bytes);
        inspector.finish(media_type).map(|_| media_type)
    }

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

    #[test]
    fn the_name_must_fit_the_type() {
        assert!(check("invoice.pdf.exe", Some("application/pdf"), b"%PDF-1.7", 100).is_err());
        assert!(check("invoice.pdf", Some("image/png"), b"\x89PNG\r\n\x1a\n", 100).is_err());
        assert_eq!(
            check("scan.JPEG", Some("image/jpeg"), b"\xff\xd8\xff\xe0", 100),
            Ok("image/jpeg")
        );
    }

    #[test]
    fn text_is_checked_across_chunk_boundaries() {
        let text = "name,city\nAsha,Pune ✓\n".as_bytes();
        let cut = text.len() - 3; // inside the three bytes of ✓
        let mut inspector = Inspector::default();
        inspector.feed(&text[..cut]);
        inspector.feed(&text[cut..]);
        let (size, sha) = inspector.finish("text/csv").expect("valid text");
        assert_eq!(size, text.len());
        assert_eq!(sha, hex::encode(Sha256::digest(text)));
        let mut cut_short = Inspector::default();
        cut_short.feed(&text[..cut]);
        assert!(cut_short.finish("text/csv").is_err());
        let mut binary = Inspector::default();
        binary.feed(b"a,b\n\0");
        assert!(binary.finish("text/csv").is_err());
    }

    /// Feeds `text` in chunks of `size` bytes and finishes it as CSV.
    fn csv_in_chunks(text: &str, size: usize) -> Result<(usize, String), String> {
        let mut inspector = Inspector::default();
        for chunk in text.as_bytes().chunks(size) {
            inspector.feed(chunk);
        }
        inspector.finish("text/csv")
    }

    #[test]
    fn csv_holding_markup_is_refused_wherever_the_chunks_cut_it() {
        let markup = [
            "name,note\nAsha,<script>alert(1)</script>\n",
            "<!DOCTYPE html><html><body>hi</body></html>",
            "a,b\n<svg onload=alert(1)>\n",
            "a,b\n<IMG SRC=x onerror=alert(1)>",
            "<?xml version=\"1.0\"?><x/>",
            "a,<!-- hidden -->\n",
            "a,b\n1,<iframe\n src=//x>",
            "a,b\n1,2\n<p",
        ];
        for text in markup {
            for size in [1, 2, 3, 7, 16, 17, 4096] {
                let refused = csv_in_chunks(text, size).expect_err(text);
                assert!(refused.contains("markup"), "{text}: {refused}");
            }
        }
        let plain = [
            "name,amount\nAsha,<10\nRavi,< 5\n",
            "a,b\nx<y,1<2\n",
            "email\n\"Asha <asha@acme.example>\"\n",
            "a,b\n<brand>,<abc\n",
        ];
        for text in plain {
            for size in [1, 5, 4096] {
                assert!(csv_in_chunks(text, size).is_ok(), "{text}");
            }
        }
    }
}
