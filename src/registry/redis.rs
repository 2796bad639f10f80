//! `RedisRegistry`: the registry on Redis or Redis Cluster, shared by every instance of a service.
//!
//! Layout: one hash per user, under the key `<prefix>:{<user>}`. The braces make the user key the
//! hash tag, so a cluster keeps all of one user's entries in one slot. A field is an entry id and
//! its value the entry as JSON, every number a decimal string (Lua's numbers are doubles, and a
//! script that re-encodes an entry must not round a `u64`). Every method is one command or one
//! Lua script on that one key, so each is atomic. The write scripts drop expired entries and let
//! the key expire when its last entry does.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, RedisError, Script, ScriptInvocation};
use serde::{Deserialize, Serialize};

use super::{EntryKind, Registry, RegistryEntry, RegistryError, RegistryFuture, Removal, Rotation};
use crate::error::Error;

/// The default bound on one registry call.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest bound [`RedisRegistryBuilder::timeout`] accepts.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// A session registry on Redis (standalone, or a Redis Cluster), shared by every instance of a
/// service: a revocation is seen by all of them as soon as the call that made it returns.
///
/// Each call is bounded: it answers within the configured [timeout](RedisRegistryBuilder::timeout)
/// (one second by default) or fails with a [`RegistryError`] of kind `"timed out"` or
/// `"unreachable"`, and the layer answers `503` without logging anyone out. The connection is
/// re-established in the background when the server comes back. Errors never carry Redis'
/// messages, and `Debug` shows the servers' addresses only (no password, no entry).
///
/// A user's entries are one hash, `<prefix>:{<user>}`, so they share a cluster hash slot and
/// every call is one command or one Lua script on one key: atomic on a cluster too. Entry ids are
/// the digests the crate derives, never a cookie's secret. Tested with Redis 7.0; needs a Tokio
/// runtime with its timer enabled. Clones share the connection.
///
/// # Examples
///
/// ```no_run
/// use tower_session_auth::{Key, RedisRegistry, SessionLayer};
///
/// # async fn run() -> Result<(), tower_session_auth::Error> {
/// let registry = RedisRegistry::builder("redis://127.0.0.1:6379").build().await?;
/// let layer = SessionLayer::builder(Key::generate())
///     .registry(registry)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    prefix: String,
    timeout: Duration,
    nodes: Vec<String>,
    scripts: Scripts,
}

enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// How to reach Redis: made by [`RedisRegistry::builder`] or [`RedisRegistry::cluster_builder`].
pub struct RedisRegistryBuilder {
    urls: Vec<String>,
    cluster: bool,
    prefix: String,
    timeout: Duration,
}

/// The servers' addresses, `host:port` (or a socket path), without user, password or database.
fn addresses(urls: &[String]) -> Vec<String> {
    urls.iter()
        .map(|url| match url.as_str().into_connection_info() {
            Ok(info) => info.addr().to_string(),
            Err(_) => "[invalid url]".to_owned(),
        })
        .collect()
}

impl fmt::Debug for RedisRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("RedisRegistry")
            .field(
                "mode",
                &match inner.conn {
                    Conn::Single(_) => "standalone",
                    Conn::Cluster(_) => "cluster",
                },
            )
            .field("nodes", &inner.nodes)
            .field("key_prefix", &inner.prefix)
            .field("timeout", &inner.timeout)
            .finish()
    }
}

impl fmt::Debug for RedisRegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRegistryBuilder")
            .field("cluster", &self.cluster)
            .field("nodes", &addresses(&self.urls))
            .field("key_prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisRegistry {
    /// A registry on one Redis server, at a `redis://` URL (`rediss://` with a TLS feature,
    /// `redis-tls-rustls` or `redis-tls-native-tls`). The URL may carry a user, a password and
    /// a database number: `redis://:password@host:6379/2`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_session_auth::RedisRegistry;
    ///
    /// # async fn run() -> Result<(), tower_session_auth::Error> {
    /// let registry = RedisRegistry::builder("redis://127.0.0.1:6379")
    ///     .key_prefix("shop-sessions")
    ///     .timeout(Duration::from_millis(500))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn builder(url: impl Into<String>) -> RedisRegistryBuilder {
        RedisRegistryBuilder::new(vec![url.into()], false)
    }

    /// A registry on a Redis Cluster, reached through any of `urls` (the client learns the
    /// others from the cluster).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tower_session_auth::RedisRegistry;
    ///
    /// # async fn run() -> Result<(), tower_session_auth::Error> {
    /// let registry = RedisRegistry::cluster_builder([
    ///     "redis://10.0.0.1:6379",
    ///     "redis://10.0.0.2:6379",
    ///     "redis://10.0.0.3:6379",
    /// ])
    /// .build()
    /// .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn cluster_builder<I>(urls: I) -> RedisRegistryBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        RedisRegistryBuilder::new(urls.into_iter().map(Into::into).collect(), true)
    }

    fn key(&self, user: &str) -> String {
        user_key(&self.inner.prefix, user)
    }

    /// The key prefix.
    pub(super) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Runs `call` within the timeout.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(failure(&e)),
            Err(_) => Err(RegistryError::new("timed out")),
        }
    }

    pub(super) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RegistryError> {
        self.bounded(async {
            match &self.inner.conn {
                Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
                Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
            }
        })
        .await
    }

    pub(super) async fn eval<T: FromRedisValue>(
        &self,
        script: ScriptInvocation<'_>,
    ) -> Result<T, RegistryError> {
        self.bounded(async {
            match &self.inner.conn {
                Conn::Single(c) => script.invoke_async(&mut c.clone()).await,
                Conn::Cluster(c) => script.invoke_async(&mut c.clone()).await,
            }
        })
        .await
    }
}

/// `<prefix>:{<user>}`: the braces make the user the hash tag, so a cluster keeps the user's
/// entries in one slot.
fn user_key(prefix: &str, user: &str) -> String {
    format!("{prefix}:{{{user}}}")
}

/// A fixed description of a Redis failure: its message may quote the server or the URL.
fn failure(e: &RedisError) -> RegistryError {
    if e.is_timeout() {
        RegistryError::new("timed out")
    } else if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        RegistryError::new("unreachable")
    } else {
        RegistryError::new("command failed")
    }
}

impl RedisRegistryBuilder {
    fn new(urls: Vec<String>, cluster: bool) -> RedisRegistryBuilder {
        RedisRegistryBuilder {
            urls,
            cluster,
            prefix: "tsa".to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The prefix of every key the registry writes (`tsa` by default): `<prefix>:{<user>}`. Use
    /// one per application sharing a Redis. It may not hold `{` or `}`, which would change the
    /// keys' hash tag.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tower_session_auth::RedisRegistry;
    ///
    /// # async fn run() -> Result<(), tower_session_auth::Error> {
    /// let registry = RedisRegistry::builder("redis://127.0.0.1:6379")
    ///     .key_prefix("shop:sessions")
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest a registry call may take, connecting included (one second by default, at most
    /// a minute). A call that takes longer fails with a [`RegistryError`] of kind `"timed out"`,
    /// and the request is answered `503`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tower_session_auth::RedisRegistry;
    ///
    /// # async fn run() -> Result<(), tower_session_auth::Error> {
    /// let registry = RedisRegistry::builder("redis://127.0.0.1:6379")
    ///     .timeout(Duration::from_millis(250))
    ///     .build()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects, within the timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Registry`] when the URL cannot be read (`"invalid url"`), the prefix holds a
    /// brace (`"invalid key prefix"`), the timeout is zero or over a minute (`"invalid
    /// timeout"`), or Redis does not answer in time (`"timed out"`, `"unreachable"`, `"command
    /// failed"`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tower_session_auth::RedisRegistry;
    ///
    /// # async fn run() -> Result<(), tower_session_auth::Error> {
    /// let registry = RedisRegistry::builder("redis://127.0.0.1:6379").build().await?;
    /// # Ok(()) }
    /// ```
    pub async fn build(self) -> Result<RedisRegistry, Error> {
        let refuse = |kind| Err(Error::Registry(RegistryError::new(kind)));
        if self.prefix.contains(['{', '}']) {
            return refuse("invalid key prefix");
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return refuse("invalid timeout");
        }
        if self.urls.is_empty() {
            return refuse("invalid url");
        }
        let mut infos = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            match url.as_str().into_connection_info() {
                Ok(info) => infos.push(info),
                Err(_) => return refuse("invalid url"),
            }
        }
        let timeout = self.timeout;
        let connect = async {
            if self.cluster {
                let client = ClusterClient::builder(infos)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .build()?;
                client.get_async_connection().await.map(Conn::Cluster)
            } else {
                let client = redis::Client::open(infos.remove(0))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(3)
                    .set_max_delay(timeout);
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map(Conn::Single)
            }
        };
        let conn = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(Error::Registry(failure(&e))),
            Err(_) => return refuse("timed out"),
        };
        Ok(RedisRegistry {
            inner: Arc::new(Inner {
                conn,
                nodes: addresses(&self.urls),
                prefix: self.prefix,
                timeout,
                scripts: Scripts::new(),
            }),
        })
    }
}

/// An entry as the scripts see it. Numbers are decimal strings; the short names keep the hashes
/// small.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// `s` for a session, `r` for remember-me.
    k: String,
    d: String,
    c: String,
    l: String,
    e: String,
    u: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<(String, String)>,
}

fn encode(entry: &RegistryEntry) -> String {
    let stored = Stored {
        k: match entry.kind {
            EntryKind::Session => "s",
            EntryKind::Remember => "r",
        }
        .to_owned(),
        d: entry.device.clone(),
        c: entry.created.to_string(),
        l: entry.last_seen.to_string(),
        e: entry.expires.to_string(),
        u: entry.user_agent.clone(),
        r: entry
            .rotated
            .as_ref()
            .map(|(next, at)| (next.clone(), at.to_string())),
    };
    // A struct of strings always serialises.
    serde_json::to_string(&stored).unwrap_or_default()
}

fn decode(text: &str) -> Result<RegistryEntry, RegistryError> {
    let unreadable = || RegistryError::new("unreadable entry");
    let stored: Stored = serde_json::from_str(text).map_err(|_| unreadable())?;
    let number = |s: &str| s.parse::<u64>().map_err(|_| unreadable());
    Ok(RegistryEntry {
        kind: match stored.k.as_str() {
            "s" => EntryKind::Session,
            "r" => EntryKind::Remember,
            _ => return Err(unreadable()),
        },
        device: stored.d,
        created: number(&stored.c)?,
        last_seen: number(&stored.l)?,
        expires: number(&stored.e)?,
        user_agent: stored.u,
        rotated: match stored.r {
            Some((next, at)) => Some((next, number(&at)?)),
            None => None,
        },
    })
}

/// The live entry in `text`, if any (a revoked remember-me entry's tombstone is none).
fn live(text: &str, now: u64) -> Result<Option<RegistryEntry>, RegistryError> {
    let entry = decode(text)?;
    Ok((entry.expires > now && !super::is_tombstone(&entry)).then_some(entry))
}

/// What every script starts with: `KEYS[1]` is the user's hash, `ARGV[1]` the caller's `now`.
const PRELUDE: &str = r"
local key = KEYS[1]
local now = ARGV[1]
-- Decimal strings without leading zeros: compared by length, then byte by byte (exact for u64).
local function gt(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
-- A revoked remember-me entry: kept until it expires, so its id can never be added again.
local function tomb(e) return e.r ~= nil and e.r[1] == '' end
-- Deletes the expired entries; returns the live ones (tombstones too), decoded, by id.
local function load()
  local live = {}
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local e = cjson.decode(flat[i + 1])
    if gt(e.e, now) then live[flat[i]] = e else redis.call('HDEL', key, flat[i]) end
  end
  return live
end
-- The key ends when its last entry does, in the caller's clock; no entry, no key.
local function settle(live)
  local last = nil
  for _, e in pairs(live) do
    if last == nil or gt(e.e, last) then last = e.e end
  end
  if last == nil then
    redis.call('DEL', key)
    return
  end
  local ttl = math.ceil(tonumber(last) - tonumber(now))
  if ttl > 1e11 then
    redis.call('PERSIST', key)
  else
    redis.call('EXPIRE', key, math.max(ttl, 1))
  end
end
";

/// `ARGV[2]` id, `ARGV[3]` the entry (live at `now`: the caller checked).
const INSERT: &str = r"
local live = load()
if live[ARGV[2]] == nil then
  redis.call('HSET', key, ARGV[2], ARGV[3])
  live[ARGV[2]] = cjson.decode(ARGV[3])
end
settle(live)
return 0
";

/// `ARGV[2]` id, `ARGV[3]` last seen.
const TOUCH: &str = r"
local live = load()
local e = live[ARGV[2]]
if e ~= nil and gt(ARGV[3], e.l) then
  e.l = ARGV[3]
  redis.call('HSET', key, ARGV[2], cjson.encode(e))
end
settle(live)
return 0
";

/// `ARGV[2]` old, `ARGV[3]` new, `ARGV[4]` successor, `ARGV[5]` `now - grace` (saturating).
/// Answers 0 unknown, 1 rotated, 2 repeated, 3 replayed.
const ROTATE: &str = r"
local live = load()
local old, new = ARGV[2], ARGV[3]
local e = live[old]
local answer
if e == nil or e.k ~= 'r' or tomb(e) then
  answer = 0
elseif e.r == nil then
  e.r = {new, now}
  redis.call('HSET', key, old, cjson.encode(e))
  local s = cjson.decode(ARGV[4])
  if gt(s.e, now) and live[new] == nil then
    redis.call('HSET', key, new, ARGV[4])
    live[new] = s
  end
  answer = 1
elseif e.r[1] == new and not gt(ARGV[5], e.r[2]) then
  answer = 2
else
  for id, x in pairs(live) do
    if x.k == 'r' and not tomb(x) then
      x.r = {'', now}
      redis.call('HSET', key, id, cjson.encode(x))
    end
  end
  answer = 3
end
settle(live)
return answer
";

/// `ARGV[2]` what: `ids` (the ids follow), `device` or `but` (a device follows), `remember`.
/// Answers how many live entries went. A remember-me entry leaves a tombstone.
const REMOVE: &str = r"
local live = load()
local what = ARGV[2]
local gone = {}
if what == 'ids' then
  for i = 3, #ARGV do
    local e = live[ARGV[i]]
    if e ~= nil and not tomb(e) then gone[ARGV[i]] = e end
  end
else
  for id, e in pairs(live) do
    if not tomb(e) and ((what == 'device' and e.d == ARGV[3])
      or (what == 'but' and e.d ~= ARGV[3]) or (what == 'remember' and e.k == 'r')) then
      gone[id] = e
    end
  end
end
local n = 0
for id, e in pairs(gone) do
  if e.k == 'r' then
    e.r = {'', now}
    redis.call('HSET', key, id, cjson.encode(e))
  else
    redis.call('HDEL', key, id)
    live[id] = nil
  end
  n = n + 1
end
settle(live)
return n
";

struct Scripts {
    insert: Script,
    touch: Script,
    rotate: Script,
    remove: Script,
}

impl Scripts {
    fn new() -> Scripts {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            insert: script(INSERT),
            touch: script(TOUCH),
            rotate: script(ROTATE),
            remove: script(REMOVE),
        }
    }
}

impl Registry for RedisRegistry {
    fn get<'a>(
        &'a self,
        user: &'a str,
        ids: &'a [&'a str],
        now: u64,
    ) -> RegistryFuture<'a, Vec<Option<RegistryEntry>>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut cmd = redis::cmd("HMGET");
            cmd.arg(self.key(user)).arg(ids);
            let found: Vec<Option<String>> = self.query(&cmd).await?;
            if found.len() != ids.len() {
                return Err(RegistryError::new("unreadable answer"));
            }
            found
                .iter()
                .map(|text| match text {
                    Some(text) => live(text, now),
                    None => Ok(None),
                })
                .collect()
        })
    }

    fn insert<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        entry: &'a RegistryEntry,
        now: u64,
    ) -> RegistryFuture<'a, ()> {
        Box::pin(async move {
            if entry.expires <= now {
                return Ok(());
            }
            let mut call = self.inner.scripts.insert.key(self.key(user));
            call.arg(now.to_string()).arg(id).arg(encode(entry));
            self.eval::<i64>(call).await.map(drop)
        })
    }

    fn touch<'a>(
        &'a self,
        user: &'a str,
        id: &'a str,
        last_seen: u64,
        now: u64,
    ) -> RegistryFuture<'a, ()> {
        Box::pin(async move {
            let mut call = self.inner.scripts.touch.key(self.key(user));
            call.arg(now.to_string()).arg(id).arg(last_seen.to_string());
            self.eval::<i64>(call).await.map(drop)
        })
    }

    fn rotate<'a>(
        &'a self,
        user: &'a str,
        old: &'a str,
        new: &'a str,
        successor: &'a RegistryEntry,
        now: u64,
        grace: u64,
    ) -> RegistryFuture<'a, Rotation> {
        Box::pin(async move {
            let mut call = self.inner.scripts.rotate.key(self.key(user));
            call.arg(now.to_string())
                .arg(old)
                .arg(new)
                .arg(encode(successor))
                // `now <= at + grace` is `now - grace <= at`, exactly, without an addition in Lua.
                .arg(now.saturating_sub(grace).to_string());
            match self.eval::<i64>(call).await? {
                0 => Ok(Rotation::Unknown),
                1 => Ok(Rotation::Rotated),
                2 => Ok(Rotation::Repeated),
                3 => Ok(Rotation::Replayed),
                _ => Err(RegistryError::new("unreadable answer")),
            }
        })
    }

    fn remove<'a>(
        &'a self,
        user: &'a str,
        which: &'a Removal,
        now: u64,
    ) -> RegistryFuture<'a, usize> {
        Box::pin(async move {
            let mut call = self.inner.scripts.remove.key(self.key(user));
            call.arg(now.to_string());
            match which {
                Removal::Ids(ids) => call.arg("ids").arg(ids),
                Removal::Device(device) => call.arg("device").arg(device),
                Removal::AllDevicesBut(device) => call.arg("but").arg(device),
                Removal::Remember => call.arg("remember"),
            };
            let removed: i64 = self.eval(call).await?;
            usize::try_from(removed).map_err(|_| RegistryError::new("unreadable answer"))
        })
    }

    fn list<'a>(
        &'a self,
        user: &'a str,
        now: u64,
    ) -> RegistryFuture<'a, Vec<(String, RegistryEntry)>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(self.key(user));
            let all: HashMap<String, String> = self.query(&cmd).await?;
            let mut listed = Vec::with_capacity(all.len());
            for (id, text) in all {
                if let Some(entry) = live(&text, now)? {
                    listed.push((id, entry));
                }
            }
            Ok(listed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> RegistryEntry {
        RegistryEntry {
            kind: EntryKind::Remember,
            device: "dev \"1\" / é".into(),
            created: 1,
            last_seen: u64::MAX - 1,
            expires: u64::MAX,
            user_agent: "Firefox on Linux\n".into(),
            rotated: Some(("next".into(), 18_446_744_073_709_551_614)),
        }
    }

    #[test]
    fn entries_round_trip_with_exact_numbers() {
        let e = entry();
        assert_eq!(decode(&encode(&e)).unwrap(), e);
        let session = RegistryEntry {
            kind: EntryKind::Session,
            rotated: None,
            ..entry()
        };
        let text = encode(&session);
        assert!(!text.contains("\"r\""), "{text}");
        assert_eq!(decode(&text).unwrap(), session);
    }

    #[test]
    fn unreadable_entries_are_errors_without_their_text() {
        for text in [
            "",
            "{}",
            "not json secret-id",
            r#"{"k":"x","d":"","c":"1","l":"1","e":"1","u":""}"#,
            r#"{"k":"s","d":"","c":"-1","l":"1","e":"1","u":""}"#,
        ] {
            let e = decode(text).unwrap_err();
            assert_eq!(e.kind(), "unreadable entry");
            assert!(!format!("{e} {e:?}").contains("secret-id"));
        }
    }

    #[test]
    fn a_users_key_has_the_user_as_its_hash_tag() {
        assert_eq!(user_key("tsa", "ab12"), "tsa:{ab12}");
        assert_eq!(user_key("shop:sessions", "x"), "shop:sessions:{x}");
    }
}
