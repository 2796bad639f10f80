//! The registry conformance suite against every registry: memory always; standalone Redis and
//! Redis Cluster when their addresses are configured (`.ci/run` starts both).

#[path = "registry/conformance.rs"]
mod conformance;

use tower_session_auth::MemoryRegistry;

#[tokio::test]
async fn memory_registry_conforms() {
    conformance::run_all(&MemoryRegistry::new(), "memory").await;
}

#[cfg(feature = "redis")]
#[path = "common/redis.rs"]
mod redis_env;

/// Standalone Redis and Redis Cluster: the conformance suite, the layout, atomicity under
/// parallel calls, and what happens when Redis goes away.
#[cfg(feature = "redis")]
mod redis {
    use std::time::Duration;

    use redis::aio::ConnectionLike;
    use tower_session_auth::{
        EntryKind, Error, RedisRegistry, Registry, RegistryError, Removal, Rotation,
    };

    use super::conformance::{self, entry};
    use super::redis_env as env;

    const NOW: u64 = 1_800_000_000;
    /// Far above any bound the registry is configured with: a call that takes this long hung.
    const HANG: Duration = Duration::from_secs(20);

    async fn guard<T>(call: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(HANG, call)
            .await
            .expect("the registry call hung instead of failing within its timeout")
    }

    async fn redis_raw(conn: &mut impl ConnectionLike, args: &[&str]) -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(conn).await.unwrap()
    }

    /// What a user's entries look like in Redis: one hash under `<prefix>:{<user>}` whose fields
    /// are exactly the entry ids, which ends with its last entry and is gone with its last entry.
    async fn rds_03_04_layout(r: &RedisRegistry, prefix: &str, conn: &mut impl ConnectionLike) {
        let user = "layout-user";
        let key = format!("{prefix}:{{{user}}}");
        r.insert(
            user,
            "id-a",
            &entry(EntryKind::Session, "A", NOW + 100),
            NOW,
        )
        .await
        .unwrap();
        r.insert(
            user,
            "id-b",
            &entry(EntryKind::Remember, "A", NOW + 1000),
            NOW,
        )
        .await
        .unwrap();
        assert_eq!(
            redis_raw(conn, &["TYPE", &key]).await,
            redis::Value::SimpleString("hash".into())
        );
        let redis::Value::Array(fields) = redis_raw(conn, &["HKEYS", &key]).await else {
            panic!("HKEYS answers an array")
        };
        let mut fields: Vec<String> = fields
            .into_iter()
            .map(|v| redis::from_redis_value(v).unwrap())
            .collect();
        fields.sort();
        assert_eq!(fields, ["id-a", "id-b"]);
        // The key ends with its last entry, counted in the caller's clock.
        let redis::Value::Int(ttl) = redis_raw(conn, &["TTL", &key]).await else {
            panic!("TTL answers an integer")
        };
        assert!((900..=1000).contains(&ttl), "TTL {ttl}");
        // A write prunes expired entries, and the key follows the entries that are left.
        r.touch(user, "id-b", NOW + 200, NOW + 200).await.unwrap();
        assert_eq!(
            redis_raw(conn, &["HEXISTS", &key, "id-a"]).await,
            redis::Value::Int(0)
        );
        assert_eq!(
            r.remove(user, &Removal::Ids(vec!["id-b".into()]), NOW + 200)
                .await
                .unwrap(),
            1
        );
        // A removed remember-me entry stays as a tombstone until it expires, then the key goes.
        assert_eq!(
            redis_raw(conn, &["EXISTS", &key]).await,
            redis::Value::Int(1),
            "the tombstone keeps the key"
        );
        r.touch(user, "id-b", NOW + 1000, NOW + 1000).await.unwrap();
        assert_eq!(
            redis_raw(conn, &["EXISTS", &key]).await,
            redis::Value::Int(0),
            "no entry, no key"
        );

        // 64-bit times survive the scripts exactly (Lua's numbers are doubles), and a key whose
        // entries end beyond any expiry Redis takes is kept without one.
        let huge = "huge-user";
        let mut e = entry(EntryKind::Remember, "H", u64::MAX);
        r.insert(huge, "h", &e, NOW).await.unwrap();
        r.touch(huge, "h", u64::MAX - 1, NOW).await.unwrap();
        e.last_seen = u64::MAX - 1;
        assert_eq!(r.get(huge, &["h"], u64::MAX - 1).await.unwrap(), [Some(e)]);
        let huge_key = format!("{prefix}:{{{huge}}}");
        assert_eq!(
            redis_raw(conn, &["TTL", &huge_key]).await,
            redis::Value::Int(-1)
        );
        r.remove(huge, &Removal::Remember, NOW).await.unwrap();
    }

    /// Twenty parallel uses of one remember-me token: exactly one rotates, the others repeat.
    async fn rds_03_parallel_rotations(r: &RedisRegistry, run: &str) {
        let user = format!("{run}-parallel");
        let e = entry(EntryKind::Remember, "D", NOW + 1000);
        r.insert(&user, "r0", &e, NOW).await.unwrap();
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (r, user, e) = (r.clone(), user.clone(), e.clone());
            calls.spawn(async move { r.rotate(&user, "r0", "r1", &e, NOW + 1, 30).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = calls.join_next().await {
            answers.push(answer.unwrap().unwrap());
        }
        let rotated = answers.iter().filter(|a| **a == Rotation::Rotated).count();
        let repeated = answers.iter().filter(|a| **a == Rotation::Repeated).count();
        assert_eq!((rotated, repeated), (1, 19), "{answers:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_standalone_conforms() {
        let Some(url) = env::standalone_url() else {
            return;
        };
        let run = env::run_id();
        let prefix = format!("tsa-test-{run}");
        let registry = RedisRegistry::builder(url.as_str())
            .key_prefix(prefix.as_str())
            .build()
            .await
            .unwrap();
        conformance::run_all(&registry, &run).await;
        rds_03_parallel_rotations(&registry, &run).await;
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        rds_03_04_layout(&registry, &prefix, &mut conn).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_cluster_conforms() {
        let Some(urls) = env::cluster_urls() else {
            return;
        };
        let run = env::run_id();
        let prefix = format!("tsa-test-{run}");
        let registry = RedisRegistry::cluster_builder(urls.iter().map(String::as_str))
            .key_prefix(prefix.as_str())
            .build()
            .await
            .unwrap();
        conformance::run_all(&registry, &run).await;
        rds_03_parallel_rotations(&registry, &run).await;
        let client = redis::cluster::ClusterClient::new(urls).unwrap();
        let mut conn = client.get_async_connection().await.unwrap();
        rds_03_04_layout(&registry, &prefix, &mut conn).await;
    }

    fn assert_outage(e: &RegistryError) {
        assert!(
            ["timed out", "unreachable"].contains(&e.kind()),
            "kind {:?}",
            e.kind()
        );
    }

    /// The server is killed: every call fails within its bound (no hang); the server comes back
    /// on the same port: the same registry works again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rds_01_outage_fails_within_the_bound_then_recovers() {
        let Some(mut server) = env::OwnServer::start(&[]) else {
            return;
        };
        let registry = RedisRegistry::builder(server.url())
            .timeout(Duration::from_millis(500))
            .build()
            .await
            .unwrap();
        let e = entry(EntryKind::Remember, "D", NOW + 100);
        registry.insert("u", "before", &e, NOW).await.unwrap();

        server.kill();
        let get = guard(registry.get("u", &["before"], NOW)).await;
        assert_outage(&get.unwrap_err());
        assert_outage(&guard(registry.insert("u", "x", &e, NOW)).await.unwrap_err());
        assert_outage(
            &guard(registry.rotate("u", "before", "y", &e, NOW, 30))
                .await
                .unwrap_err(),
        );
        assert_outage(&guard(registry.list("u", NOW)).await.unwrap_err());

        server.restart();
        // The same instance reconnects: within the guard, a call succeeds again.
        guard(async {
            while registry.insert("u", "after", &e, NOW).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert_eq!(
            guard(registry.get("u", &["after"], NOW)).await.unwrap(),
            vec![Some(e)]
        );
    }

    /// A server that stops answering (SIGSTOP) makes calls time out, with the default bound;
    /// so does one that accepts connections and never answers, when connecting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rds_01_unresponsive_server_times_out() {
        let Some(server) = env::OwnServer::start(&[]) else {
            return;
        };
        let registry = RedisRegistry::builder(server.url()).build().await.unwrap();
        let e = entry(EntryKind::Session, "D", NOW + 100);
        registry.insert("u", "s", &e, NOW).await.unwrap();
        server.signal("STOP");
        let answer = guard(registry.get("u", &["s"], NOW)).await;
        server.signal("CONT");
        assert_eq!(answer.unwrap_err().kind(), "timed out");
        guard(async {
            while registry.get("u", &["s"], NOW).await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;

        // Accepts, never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("redis://127.0.0.1:{}", silent.local_addr().unwrap().port());
        let built = guard(RedisRegistry::builder(url).build()).await;
        match built {
            Err(Error::Registry(e)) => assert_eq!(e.kind(), "timed out"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    /// Neither errors nor `Debug` show the URL's password or what Redis said.
    #[tokio::test]
    async fn rds_02_errors_and_debug_hide_passwords_and_server_messages() {
        let password = "hunter2-not-for-logs";
        let Some(server) = env::OwnServer::start(&["--requirepass", password]) else {
            return;
        };
        let with_password = format!("redis://:{password}@127.0.0.1:{}", server.port);
        let registry = RedisRegistry::builder(with_password.as_str())
            .build()
            .await
            .unwrap();
        let shown = format!("{registry:?}");
        assert!(shown.contains(&server.port.to_string()), "{shown}");
        assert!(!shown.contains(password), "{shown}");
        let builder = format!("{:?}", RedisRegistry::builder(with_password.as_str()));
        assert!(!builder.contains(password), "{builder}");
        // The registry works with the password.
        let e = entry(EntryKind::Session, "D", NOW + 100);
        registry.insert("u", "s", &e, NOW).await.unwrap();

        // A wrong password, no password, a malformed URL: fixed kinds, nothing from Redis.
        for url in [
            format!("redis://:wrong-{password}@127.0.0.1:{}", server.port),
            server.url(),
            format!("redis://:{password}@127.0.0.1:notaport"),
            // TLS to a plain-text server: the handshake fails (with a TLS feature), or the
            // scheme is refused (without one); no panic either way.
            format!("rediss://:{password}@127.0.0.1:{}", server.port),
        ] {
            let error = match RedisRegistry::builder(url.as_str()).build().await {
                Err(error) => error,
                Ok(registry) => {
                    // Redis refuses the first command when AUTH was not given.
                    Error::Registry(registry.get("u", &["s"], NOW).await.unwrap_err())
                }
            };
            let text = format!("{error} {error:?}");
            for leak in [
                password,
                "WRONGPASS",
                "NOAUTH",
                "username-password",
                "Authentication",
            ] {
                assert!(!text.contains(leak), "{leak:?} in {text}");
            }
            assert!(matches!(error, Error::Registry(_)), "{text}");
        }
        // A timeout of zero and a prefix that would change the hash tag are refused.
        for builder in [
            RedisRegistry::builder(server.url()).timeout(Duration::ZERO),
            RedisRegistry::builder(server.url()).key_prefix("{shared}"),
        ] {
            assert!(matches!(builder.build().await, Err(Error::Registry(_))));
        }
    }
}
