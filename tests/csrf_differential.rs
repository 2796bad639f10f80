//! The CSRF header check against `tower-http`'s (the same algorithm, Go 1.25's): one generated
//! table of requests (method × `Sec-Fetch-Site` × `Origin` × `Host` × options, from
//! `examples/csrf_table.rs`) through both layers. They agree on every row except where a
//! documented difference says otherwise, and every documented difference shows in the table
//! (SECURITY.md CSRF-12).

#[allow(dead_code)]
#[path = "../examples/csrf_table.rs"]
mod table;

use std::collections::BTreeMap;
use std::convert::Infallible;

use http::{Request, Response, StatusCode};
use table::{Outcome, Row};
use tower::{Layer, ServiceExt};

/// The row through `tower_http::csrf::CsrfLayer` with its trusted origin; `true` if it passes.
/// `tower-http` cannot allow same-site requests and has no scheme option: those options are this
/// crate's alone.
async fn through_tower_http(row: &Row) -> bool {
    let mut layer = tower_http::csrf::CsrfLayer::new();
    if let Some(trusted) = row.trusted {
        layer = layer.add_trusted_origin(trusted).unwrap();
    }
    let service = layer.layer(tower::service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(bytes::Bytes::new()))
    }));
    let response = service.oneshot(table::request(row)).await.unwrap();
    match response.status() {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN => false,
        status => panic!("tower-http answered {status} to {row:?}"),
    }
}

/// Origins compared as this crate compares them (scheme, lowercase host, port with the default
/// filled in), for the rules below; `None` for what is not an `http(s)` origin.
fn canonical(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    if authority.is_empty() || authority.contains(['/', ' ']) {
        return None;
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, port.parse().ok()?),
        None => (authority, default),
    };
    Some((scheme, host.to_ascii_lowercase(), port))
}

fn own_origin(row: &Row) -> Option<(String, String, u16)> {
    canonical(&format!("{}://{}", row.scheme, row.host?))
}

/// Why `tower-http` decides otherwise on this row, or `None` where both must agree. Under
/// `TokenPolicy::Never` this crate passes what has neither header, as `tower-http` does; the
/// other policies differ there by design (a token is required), which the table marks `token`.
fn tower_http_difference(row: &Row) -> Option<&'static str> {
    if row.method == "GET" {
        return None;
    }
    let origin = row.origin.filter(|o| !o.is_empty());
    let fetch_site = row.sec_fetch_site.filter(|s| !s.is_empty());
    let trusted_exactly = origin.is_some() && origin == row.trusted;
    let trusted_canonically = origin
        .is_some_and(|o| canonical(o).is_some() && canonical(o) == row.trusted.and_then(canonical));
    let same_origin = matches!(fetch_site, Some("same-origin" | "none"));
    if trusted_canonically && !trusted_exactly && !same_origin {
        return Some("trusted origins are compared by scheme, host and port, not byte for byte");
    }
    if row.same_site && fetch_site == Some("same-site") && !trusted_exactly {
        return Some("same-site requests pass when allowed (tower-http has no such option)");
    }
    if fetch_site.is_none() && !trusted_exactly {
        if let Some(origin) = origin {
            // tower-http: the Origin's authority equals the Host header, byte for byte, whatever
            // the scheme; and a path after it (`https://app.example/`) is ignored.
            let tower_same = origin
                .parse::<http::Uri>()
                .ok()
                .filter(|u| matches!(u.scheme_str(), Some("http" | "https")))
                .and_then(|u| u.authority().map(|a| a.as_str().to_owned()))
                .is_some_and(|authority| Some(authority.as_str()) == row.host);
            let crate_same = canonical(origin).is_some() && canonical(origin) == own_origin(row);
            if tower_same && !crate_same {
                return Some(if origin.ends_with('/') {
                    "an Origin with a path is not an origin (browsers never send one)"
                } else {
                    "the Origin's scheme must be this server's configured scheme"
                });
            }
            if crate_same && !tower_same {
                return Some("Origin and Host are compared as origins (case, default port)");
            }
        }
    }
    None
}

#[tokio::test]
async fn csrf_12_the_check_agrees_with_tower_http_except_where_documented() {
    let rows = table::rows();
    assert_eq!(rows.len(), 4 * 7 * 14 * 5 * 2 * 2 * 2);
    let mut differences: BTreeMap<&str, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for row in &rows {
        let ours = table::through_crate(row).await;
        // Under TokenPolicy::Never, "neither header" passes: tower-http's behaviour.
        let crate_passes = ours != Outcome::Refuse;
        let theirs = through_tower_http(row).await;
        let documented = tower_http_difference(row);
        match documented {
            Some(why) if crate_passes != theirs => *differences.entry(why).or_default() += 1,
            None if crate_passes == theirs => {}
            _ => wrong.push(format!(
                "{row:?}: crate {ours:?}, tower-http passes: {theirs}, documented: {documented:?}"
            )),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} rows off:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    // Every documented difference shows somewhere in the table.
    assert_eq!(differences.len(), 5, "{differences:#?}");
}
