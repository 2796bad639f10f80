//! The throttle's counters in Redis, shared by every instance (feature `redis`).

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::store::{Charge, CounterStore, StoreFuture, Verdict};
use crate::Error;

/// The GCRA rule of [`Budget`](crate::Budget) over every key at once, in one script, so Redis
/// runs it atomically. `ARGV[1]` is now, `ARGV[2]` the mode (`spend` or `refund`), then each
/// key's refill and window (`burst × refill`). Counters are kept as their `tat` with an expiry
/// at `tat`. Returns `{1, 0, 0}` when spent (or refunded), `{0, wait, index}` when refused.
const SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local mode = ARGV[2]
local nexts = {}
local longest, which = 0, 0
for i, key in ipairs(KEYS) do
  local refill = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  local stored = redis.call('GET', key)
  local tat = now
  if stored then tat = tonumber(stored) end
  if mode == 'refund' then
    if stored then
      local back = tat - refill
      if back > now then
        redis.call('SET', key, string.format('%d', back), 'EX', back - now)
      else
        redis.call('DEL', key)
      end
    end
  else
    if tat < now then tat = now end
    local nxt = tat + refill
    if nxt - now > window then
      local wait = nxt - now - window
      if wait > longest then
        longest = wait
        which = i
      end
    else
      nexts[i] = nxt
    end
  end
end
if longest > 0 then
  return {0, longest, which - 1}
end
if mode == 'spend' then
  for i, key in ipairs(KEYS) do
    redis.call('SET', key, string.format('%d', nexts[i]), 'EX', nexts[i] - now)
  end
end
return {1, 0, 0}
";

/// How long connecting to Redis may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one command may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long one call may take in all, reconnecting included: a login waits no longer for a
/// Redis that is down.
const CALL_DEADLINE: Duration = Duration::from_secs(1);

/// The throttle's counters in Redis, so that every instance behind one load balancer spends the
/// same budgets (feature `redis`).
///
/// One script per attempt applies the budget rule to all of the attempt's counters atomically
/// (see [`CounterStore`]); each counter is one string key, `prefix` + the throttle's key, that
/// expires when its budget is whole again. Connection and command timeouts are on (2 s and
/// 500 ms, and 1 s for a whole call): a Redis that does not answer in time makes the throttle
/// refuse the attempt with `503`, never let it through unchecked. The connection reconnects by
/// itself.
///
/// Every instance must use the same [`Key`](crate::Key) (the counters are named by keyed
/// hashes) and clocks in step (budgets are computed from the instance's clock). The script
/// touches several keys, so on Redis Cluster it needs them in one slot: give a prefix with a
/// hash tag, such as `{throttle}:`.
///
/// # Examples
///
/// ```no_run
/// use tower_session_auth::{Key, LoginThrottle, RedisCounters};
///
/// # async fn f() -> Result<(), tower_session_auth::Error> {
/// let store = RedisCounters::open("redis://127.0.0.1:6379")?.key_prefix("myapp:throttle:");
/// let throttle = LoginThrottle::builder(Key::generate()).store(store).build()?;
/// # let _ = throttle;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
    prefix: String,
    script: Script,
}

impl fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: not shown.
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCounters {
    /// A store on the Redis at `url` (`redis://host:port/db`, `rediss://` for TLS if redis-rs
    /// is built with it), with the key prefix `tower-session-auth:throttle:`. It connects on
    /// first use, within a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::CounterStore`] when `url` is not a Redis URL.
    ///
    /// # Examples
    ///
    /// ```
    /// use tower_session_auth::RedisCounters;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// assert!(RedisCounters::open("not a url").is_err());
    /// # }
    /// ```
    pub fn open(url: &str) -> Result<RedisCounters, Error> {
        let client = redis::Client::open(url).map_err(store_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // One quick retry: a login should not wait through a long backoff.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(store_error)?;
        Ok(RedisCounters {
            conn,
            prefix: "tower-session-auth:throttle:".into(),
            script: Script::new(SCRIPT),
        })
    }

    /// The prefix of every key the store writes (default `tower-session-auth:throttle:`), to
    /// share one Redis between applications or tests.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tower_session_auth::RedisCounters;
    ///
    /// let store = RedisCounters::open("redis://127.0.0.1:6379")?.key_prefix("{shop}:throttle:");
    /// # let _ = store;
    /// # Ok::<(), tower_session_auth::Error>(())
    /// ```
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> RedisCounters {
        self.prefix = prefix.into();
        self
    }

    async fn run(&self, mode: &str, charges: &[Charge], now: u64) -> Result<Verdict, Error> {
        if charges.is_empty() {
            return Ok(Verdict::Spent);
        }
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(now).arg(mode);
        for charge in charges {
            invocation
                .key(format!("{}{}", self.prefix, charge.key))
                .arg(charge.budget.refill_every().as_secs())
                .arg(charge.budget.window());
        }
        let mut conn = self.conn.clone();
        let call = invocation.invoke_async::<(u8, u64, usize)>(&mut conn);
        let (spent, wait, index) = tokio::time::timeout(CALL_DEADLINE, call)
            .await
            .map_err(|_| Error::CounterStore("no answer from Redis within 1 second".into()))?
            .map_err(store_error)?;
        Ok(if spent == 1 {
            Verdict::Spent
        } else {
            Verdict::Refused {
                retry_after: wait.max(1),
                charge: index,
            }
        })
    }
}

fn store_error(e: redis::RedisError) -> Error {
    Error::CounterStore(Box::new(e))
}

impl CounterStore for RedisCounters {
    fn spend<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, Verdict> {
        Box::pin(self.run("spend", charges, now))
    }

    fn refund<'a>(&'a self, charges: &'a [Charge], now: u64) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.run("refund", charges, now).await.map(|_| ()) })
    }
}
