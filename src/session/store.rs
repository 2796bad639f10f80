//! The store step: with a [`SessionStore`], the session cookie carries only a signed id (a session
//! token whose one member is `_store`), and the data is loaded from the store before the inner
//! service and saved after it, as a patch of the keys the request changed.

use ring::digest::{digest, SHA256};
use serde_json::{Map, Value};

use crate::registry::RegistryError;
use crate::store::{Saved, SessionPatch, SessionStore, StoredSession};
use crate::SessionDict;

/// The member of the id cookie that holds the record's secret id.
pub(crate) const STORE_ID: &str = "_store";

/// The largest session a store keeps, as JSON: 1 MiB.
pub(crate) const MAX_STORED_LEN: usize = 1 << 20;

/// Browsers keep no cookie longer than 400 days: a record without a deadline ends then.
const LONGEST: u64 = 400 * 86_400;

/// What the store must do with a request's changes.
pub(crate) enum Plan {
    Nothing,
    /// Save these changes onto the loaded record.
    Patch {
        secret: String,
        version: u64,
        set: Map<String, Value>,
        remove: Vec<String>,
        created: Option<u64>,
    },
    /// Keep the session in a new record (a new session, a login, an imported stateless cookie),
    /// and delete the `old` one.
    Create {
        old: Option<String>,
        data: Map<String, Value>,
        created: Option<u64>,
    },
    /// The session ends: delete its record.
    Delete {
        secret: String,
    },
}

/// Before the inner service: verifies the id cookie and loads its record into the handle. A
/// stateless session cookie (a deployment that moved to server-side placement) is imported into
/// a new record when the response is written.
pub(crate) async fn load(
    session: &SessionDict,
    store: &dyn SessionStore,
) -> Result<(), RegistryError> {
    let loaded = session.open_cookie();
    let secret = match loaded.map.get(STORE_ID) {
        Some(member) if loaded.map.len() == 1 => member.as_string(),
        _ => None,
    };
    match secret {
        Some(secret) => match store.load(&record_id(&secret), session.now()).await? {
            Some(record) => {
                let version = record.version;
                session.install(record.data, &loaded, Some((secret, version)), false);
            }
            None => {
                tracing::debug!("session id cookie points at no record; a new session begins");
                let gone = crate::session::backend::Loaded {
                    invalid: true,
                    ..Default::default()
                };
                session.install(Map::new(), &gone, None, false);
            }
        },
        None => {
            let import = !loaded.map.is_empty();
            if import {
                tracing::info!("stateless session cookie imported into the session store");
            }
            let map = loaded.map.to_map();
            session.install(map, &loaded, None, import);
        }
    }
    Ok(())
}

/// After the inner service: saves the request's changes, and leaves in the handle the id cookie
/// the response carries.
pub(crate) async fn save(
    session: &SessionDict,
    store: &dyn SessionStore,
) -> Result<(), RegistryError> {
    let now = session.now();
    let expires = |created: Option<u64>| {
        let (_, absolute) = session.timeouts();
        created
            .unwrap_or(now)
            .saturating_add(absolute.unwrap_or(LONGEST))
            .saturating_add(session.leeway())
    };
    match session.store_plan() {
        Plan::Nothing => {
            let stored = session.stored_secret();
            if let Some((secret, created)) = stored {
                session.store_done(Some(&secret), created, false);
            }
        }
        Plan::Patch {
            secret,
            version,
            set,
            remove,
            created,
        } => {
            let patch = SessionPatch {
                loaded_version: version,
                set,
                remove,
                expires: expires(created),
            };
            match store.save(&record_id(&secret), &patch, now).await? {
                Saved::Saved { .. } => session.store_done(Some(&secret), created, false),
                Saved::Merged { .. } => {
                    tracing::debug!("session saved over a concurrent save; changes merged");
                    session.store_done(Some(&secret), created, false);
                }
                Saved::Gone => {
                    // No `Set-Cookie`: the cookie the browser holds now may be a newer one (a login
                    // in another tab), and the dead one reads as a new session anyway.
                    tracing::info!(
                        "session ended while this request ran (a logout, a revocation); its \
                         changes are not saved"
                    );
                    session.leave_cookies_alone();
                }
            }
        }
        Plan::Create { old, data, created } => {
            let record = StoredSession {
                data,
                version: 1,
                created: created.unwrap_or(now),
                expires: expires(created),
            };
            // Ids are 128 random bits: a collision means a broken store, not bad luck.
            let mut created = None;
            for _ in 0..3 {
                let secret = crate::secret::random_id();
                if store.create(&record_id(&secret), &record, now).await? {
                    created = Some(secret);
                    break;
                }
            }
            let Some(secret) = created else {
                return Err(RegistryError::new("store refused every new record id"));
            };
            if let Some(old) = old {
                store.delete(&record_id(&old)).await?;
            }
            session.store_done(Some(&secret), Some(record.created), true);
        }
        Plan::Delete { secret } => {
            store.delete(&record_id(&secret)).await?;
            session.store_done(None, None, false);
        }
    }
    Ok(())
}

/// The store's id of a record: the SHA-256 of the secret the cookie carries.
fn record_id(secret: &str) -> String {
    crate::secret::hex(digest(&SHA256, secret.as_bytes()).as_ref())
}
