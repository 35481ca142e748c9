//! Automatic persisted queries (Apollo's protocol, version 1): a document sent once with
//! its SHA-256 in `extensions.persistedQuery.sha256Hash` (checked) is kept, and is then
//! sent by the hash alone (`PERSISTED_QUERY_NOT_FOUND` when it is not kept, and the client
//! sends the document again).
//!
//! What is kept is the document's text, which a request by hash gets back as its `query`:
//! everything that follows sees it as if it had been sent whole, so its limits (the
//! nesting and expansion checks before the parse included, [`super::limits`]) and the
//! answer cache's key ([`super::cache`]) are those of its text. At most
//! `--graphql-persisted-queries` documents and [`MAX_BYTES`] of text are kept, the least
//! recently used going first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{ErrorExtensions, ServerError, ServerResult};

use crate::error::Error;

/// The most bytes of document text kept.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The kept documents, as a schema extension.
#[derive(Clone)]
pub struct PersistedQueries {
    store: Arc<Mutex<Store>>,
}

impl PersistedQueries {
    /// At most `entries` documents (and [`MAX_BYTES`]).
    pub fn new(entries: usize) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                max_entries: entries,
                texts: HashMap::new(),
                bytes: 0,
                clock: 0,
            })),
        }
    }
}

struct Store {
    max_entries: usize,
    /// Document text and when it was last used, by hex SHA-256.
    texts: HashMap<String, (Arc<str>, u64)>,
    bytes: usize,
    clock: u64,
}

impl Store {
    fn get(&mut self, hash: &str) -> Option<Arc<str>> {
        self.clock += 1;
        let clock = self.clock;
        self.texts.get_mut(hash).map(|(text, used)| {
            *used = clock;
            text.clone()
        })
    }

    fn put(&mut self, hash: String, text: &str) {
        if text.len() > MAX_BYTES / 8 || self.texts.contains_key(&hash) {
            return;
        }
        while !self.texts.is_empty()
            && (self.texts.len() >= self.max_entries || self.bytes + text.len() > MAX_BYTES)
        {
            let Some(oldest) = self
                .texts
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(hash, _)| hash.clone())
            else {
                break;
            };
            if let Some((gone, _)) = self.texts.remove(&oldest) {
                self.bytes -= gone.len();
            }
        }
        self.clock += 1;
        self.bytes += text.len();
        self.texts.insert(hash, (Arc::from(text), self.clock));
    }
}

/// The `persistedQuery` extension of a request.
#[derive(serde::Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PersistedQueries {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let Some(value) = request.extensions.remove("persistedQuery") else {
            return next.run(ctx, request).await;
        };
        let persisted: PersistedQuery = async_graphql::from_value(value).map_err(|_| {
            invalid("extensions.persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<hex SHA-256 of the query>\"}")
        })?;
        if persisted.version != 1 {
            return Err(invalid(&format!(
                "extensions.persistedQuery.version must be 1, got {}",
                persisted.version
            )));
        }
        let wanted = persisted.sha256_hash.to_ascii_lowercase();
        if request.query.is_empty() {
            let kept = self
                .store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&wanted);
            let Some(text) = kept else {
                let mut error = ServerError::new("PersistedQueryNotFound", None);
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", "PERSISTED_QUERY_NOT_FOUND");
                return Err(error);
            };
            request.query = text.to_string();
        } else {
            let digest =
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, request.query.as_bytes());
            let hash: String = digest
                .as_ref()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            if hash != wanted {
                return Err(invalid(
                    "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query (hex)",
                ));
            }
            self.store
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(hash, &request.query);
        }
        next.run(ctx, request).await
    }
}

/// A persisted-query extension that cannot be used, as a coded error.
fn invalid(message: &str) -> ServerError {
    let coded = Error::invalid("extensions.persistedQuery", message).extend();
    let mut error = ServerError::new(message, None);
    error.extensions = coded.extensions;
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("code", "persisted_query_invalid");
    }
    error
}

#[cfg(test)]
mod tests {
    use super::{MAX_BYTES, Store};
    use std::collections::HashMap;

    #[test]
    fn the_store_keeps_its_bounds_dropping_the_least_recently_used() {
        let mut store = Store {
            max_entries: 2,
            texts: HashMap::new(),
            bytes: 0,
            clock: 0,
        };
        store.put("a".into(), "{ a }");
        store.put("b".into(), "{ b }");
        assert!(store.get("a").is_some());
        store.put("c".into(), "{ c }");
        assert!(store.get("b").is_none(), "b was used least recently");
        assert_eq!(store.texts.len(), 2);
        let big = "x".repeat(MAX_BYTES / 8);
        for name in ["d", "e", "f", "g", "h", "i", "j", "k", "l"] {
            store.max_entries = 100;
            store.put(name.into(), &big);
            assert!(store.bytes <= MAX_BYTES);
        }
        assert_eq!(
            store.bytes,
            store.texts.values().map(|(t, _)| t.len()).sum::<usize>()
        );
        store.put("huge".into(), &"x".repeat(MAX_BYTES / 8 + 1));
        assert!(
            store.get("huge").is_none(),
            "a document over an eighth is not kept"
        );
    }
}
