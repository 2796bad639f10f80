//! Server-side sessions on Redis: [`SessionStore`] for [`RedisRegistry`], on the same connection.
//!
//! Layout: one hash per session, under `<prefix>:s:{<id>}` (the record id as the hash tag): the
//! fields `v` (version), `c` (created) and `e` (expires), and one field `d:<key>` per session
//! key, holding the value's JSON. A save is one Lua script that sets and deletes only the fields
//! the request changed, so concurrent saves of different keys merge, and it refuses to write
//! into a record that is gone. The key expires with its record.

use serde_json::{Map, Value};

use super::redis::RedisRegistry;
use std::sync::LazyLock;

use redis::Script;

use crate::registry::RegistryFuture;
use crate::store::{Saved, SessionPatch, SessionStore, StoredSession};

/// `ARGV`: now, expires, then the fields and values. Creates the record unless a live one is
/// there; answers 1 when created, 0 when taken.
const CREATE: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if e and tonumber(e) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], math.max(1, tonumber(ARGV[2]) - tonumber(ARGV[1])))
return 1
";

/// `ARGV`: now, loaded version, expires, how many fields to set, then field/value pairs, then
/// the fields to delete. Answers `{-1, 0}` when the record is gone, else `{new version, merged}`,
/// `merged` 1 when another save came in between.
const SAVE: &str = r"
local e = redis.call('HGET', KEYS[1], 'e')
if not e or tonumber(e) <= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {-1, 0}
end
local n = tonumber(ARGV[4])
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
for i = 5, 4 + 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('HSET', KEYS[1], 'e', ARGV[3])
redis.call('EXPIRE', KEYS[1], math.max(1, tonumber(ARGV[3]) - tonumber(ARGV[1])))
local merged = 0
if v - 1 ~= tonumber(ARGV[2]) then merged = 1 end
return {v, merged}
";

static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE));
static SAVE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SAVE));

impl RedisRegistry {
    /// `<prefix>:s:{<id>}`: a session record, its id the hash tag.
    fn record_key(&self, id: &str) -> String {
        format!("{}:s:{{{id}}}", self.prefix())
    }
}

/// The record in a hash's fields, or `None` (with a `warn` event) when it is not one.
fn decode(fields: Vec<(String, String)>, now: u64) -> Option<StoredSession> {
    if fields.is_empty() {
        return None;
    }
    let (mut version, mut created, mut expires) = (None, None, None);
    let mut data = Map::new();
    for (field, value) in fields {
        match field.as_str() {
            "v" => version = value.parse::<u64>().ok(),
            "c" => created = value.parse::<u64>().ok(),
            "e" => expires = value.parse::<u64>().ok(),
            _ => match field.strip_prefix("d:") {
                Some(key) => match serde_json::from_str::<Value>(&value) {
                    Ok(value) => {
                        data.insert(key.to_owned(), value);
                    }
                    Err(_) => return corrupt(),
                },
                None => return corrupt(),
            },
        }
    }
    let (Some(version), Some(created), Some(expires)) = (version, created, expires) else {
        return corrupt();
    };
    (expires > now).then_some(StoredSession {
        data,
        version,
        created,
        expires,
    })
}

fn corrupt() -> Option<StoredSession> {
    tracing::warn!("unreadable session record in Redis; a new session begins");
    None
}

/// A value's JSON: a `Value` always serialises.
fn json(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl SessionStore for RedisRegistry {
    fn load<'a>(&'a self, id: &'a str, now: u64) -> RegistryFuture<'a, Option<StoredSession>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(self.record_key(id));
            let raw: Vec<(Vec<u8>, Vec<u8>)> = match self.query(&cmd).await {
                Ok(raw) => raw,
                // A key of another type (WRONGTYPE): not a record.
                Err(e) if e.kind() == "command failed" => return Ok(corrupt()),
                Err(e) => return Err(e),
            };
            let fields = raw
                .into_iter()
                .map(
                    |(f, v)| match (String::from_utf8(f), String::from_utf8(v)) {
                        (Ok(f), Ok(v)) => Some((f, v)),
                        _ => None,
                    },
                )
                .collect::<Option<Vec<_>>>();
            Ok(match fields {
                Some(fields) => decode(fields, now),
                None => corrupt(),
            })
        })
    }

    fn create<'a>(
        &'a self,
        id: &'a str,
        session: &'a StoredSession,
        now: u64,
    ) -> RegistryFuture<'a, bool> {
        Box::pin(async move {
            if session.expires <= now {
                return Ok(true);
            }
            let mut call = CREATE_SCRIPT.key(self.record_key(id));
            call.arg(now.to_string())
                .arg(session.expires.to_string())
                .arg("v")
                .arg("1")
                .arg("c")
                .arg(session.created.to_string())
                .arg("e")
                .arg(session.expires.to_string());
            for (key, value) in &session.data {
                call.arg(format!("d:{key}")).arg(json(value));
            }
            let created: i64 = self.eval(call).await?;
            Ok(created == 1)
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        patch: &'a SessionPatch,
        now: u64,
    ) -> RegistryFuture<'a, Saved> {
        Box::pin(async move {
            let mut call = SAVE_SCRIPT.key(self.record_key(id));
            call.arg(now.to_string())
                .arg(patch.loaded_version.to_string())
                .arg(patch.expires.to_string())
                .arg(patch.set.len().to_string());
            for (key, value) in &patch.set {
                call.arg(format!("d:{key}")).arg(json(value));
            }
            for key in &patch.remove {
                call.arg(format!("d:{key}"));
            }
            let (version, merged): (i64, i64) = self.eval(call).await?;
            Ok(match (u64::try_from(version), merged) {
                (Err(_), _) => Saved::Gone,
                (Ok(version), 0) => Saved::Saved { version },
                (Ok(version), _) => Saved::Merged { version },
            })
        })
    }

    fn delete<'a>(&'a self, id: &'a str) -> RegistryFuture<'a, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(self.record_key(id));
            let _: i64 = self.query(&cmd).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn records_decode_and_corrupt_ones_read_as_none() {
        let good = fields(&[("v", "3"), ("c", "10"), ("e", "100"), ("d:a", "[1,\"x\"]")]);
        let record = decode(good.clone(), 50).unwrap();
        assert_eq!(record.version, 3);
        assert_eq!(record.data["a"], serde_json::json!([1, "x"]));
        assert!(decode(good, 100).is_none(), "expired");
        for bad in [
            fields(&[("v", "3"), ("c", "10"), ("e", "100"), ("d:a", "{not json")]),
            fields(&[("v", "x"), ("c", "10"), ("e", "100")]),
            fields(&[("c", "10"), ("e", "100")]),
            fields(&[("v", "1"), ("c", "10"), ("e", "100"), ("stray", "1")]),
        ] {
            assert!(decode(bad, 50).is_none());
        }
    }
}
