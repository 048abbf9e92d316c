//! What makes answers cacheable by browsers and CDNs: `Cache-Control`, a strong `ETag` (and 304 for
//! a matching `If-None-Match`), `Surrogate-Key` naming the content in the answer (so a purge by id
//! reaches every page that shows it), artwork URLs on the CDN, and CORS.

use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// Cache lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Browsers.
    pub max_age: u32,
    /// Shared caches (CDNs).
    pub s_maxage: u32,
    /// How long a shared cache may serve a stale answer while it fetches a fresh one.
    pub stale_while_revalidate: u32,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self { max_age: 10, s_maxage: 30, stale_while_revalidate: 60 }
    }
}

impl CachePolicy {
    pub fn header(&self) -> HeaderValue {
        let text = format!(
            "public, max-age={}, s-maxage={}, stale-while-revalidate={}",
            self.max_age, self.s_maxage, self.stale_while_revalidate
        );
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("no-store"))
    }
}

/// A strong entity tag for exactly these bytes.
pub fn etag(body: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Whether `If-None-Match` names `etag` (or is `*`). Comparison is weak, as RFC 9110 says for
/// `If-None-Match`: `W/"x"` matches `"x"`.
pub fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(ours) = etag.to_str() else { return false };
    headers.get_all(http::header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|value| {
        value.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
    })
}

/// `Surrogate-Key`: the ids, space-separated, without repeats, plus `extra` keys (such as `search`)
/// that purge whole kinds of page.
pub fn surrogate_keys<'a>(ids: impl IntoIterator<Item = &'a str>, extra: &[&str]) -> HeaderValue {
    let mut keys: Vec<&str> = extra.to_vec();
    for id in ids {
        if !keys.contains(&id) {
            keys.push(id);
        }
    }
    HeaderValue::from_str(&keys.join(" ")).unwrap_or(HeaderValue::from_static(""))
}

/// `url` served through the CDN at `base`: `https://img.example.org/a/b.jpg?w=1` becomes
/// `{base}/img.example.org/a/b.jpg?w=1` (the origin host stays in the path, so one CDN can pull
/// from any number of origins). URLs that are not http(s) are left alone.
pub fn rewrite(url: &str, base: &str) -> String {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() => format!("{}/{rest}", base.trim_end_matches('/')),
        _ => url.to_owned(),
    }
}

/// Who may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Cors {
    /// Any origin (`*`): the API is public and takes no cookies.
    #[default]
    Any,
    /// Only these origins (echoed back, with `Vary: Origin`).
    Origins(Vec<String>),
}

impl Cors {
    pub fn parse(input: &str) -> Self {
        let origins: Vec<String> =
            input.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect();
        if origins.is_empty() || origins.iter().any(|o| o == "*") { Self::Any } else { Self::Origins(origins) }
    }

    /// Adds the CORS answer for a request from `origin` (nothing for an origin not allowed).
    pub fn apply(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let allowed = match (self, origin) {
            (Self::Any, _) => Some(HeaderValue::from_static("*")),
            (Self::Origins(list), Some(origin)) if list.iter().any(|o| o == origin) => {
                HeaderValue::from_str(origin).ok()
            }
            _ => None,
        };
        if let Self::Origins(_) = self {
            headers.append(http::header::VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(value) = allowed {
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "ETag, RateLimit, RateLimit-Policy, Retry-After, Surrogate-Key, traceparent, x-request-id",
                ),
            );
        }
    }

    /// Adds what a preflight (`OPTIONS`) answer needs beyond [`Cors::apply`].
    pub fn preflight(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        self.apply(origin, headers);
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, OPTIONS"));
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, If-None-Match, traceparent"),
        );
        headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_weakly_and_in_lists() {
        let tag = etag(b"hello");
        assert_eq!(tag, etag(b"hello"));
        assert_ne!(tag, etag(b"hello!"));
        let text = tag.to_str().expect("ascii").to_owned();
        for sent in [text.clone(), format!("W/{text}"), format!("\"other\", {text}"), "*".to_owned()] {
            let mut headers = HeaderMap::new();
            headers.insert(http::header::IF_NONE_MATCH, HeaderValue::from_str(&sent).expect("header"));
            assert!(not_modified(&headers, &tag), "{sent}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(http::header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!not_modified(&headers, &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }

    #[test]
    fn artwork_moves_onto_the_cdn_keeping_its_origin() {
        assert_eq!(
            rewrite("https://img.example.org/a/b.jpg?w=1", "https://cdn.mediamesh.test/"),
            "https://cdn.mediamesh.test/img.example.org/a/b.jpg?w=1"
        );
        assert_eq!(rewrite("data:image/png;base64,xx", "https://cdn.test"), "data:image/png;base64,xx");
    }

    #[test]
    fn cors_echoes_only_listed_origins() {
        let cors = Cors::parse("https://a.test, https://b.test");
        let mut headers = HeaderMap::new();
        cors.apply(Some("https://b.test"), &mut headers);
        assert_eq!(headers["access-control-allow-origin"], "https://b.test");
        let mut headers = HeaderMap::new();
        cors.apply(Some("https://evil.test"), &mut headers);
        assert!(headers.get("access-control-allow-origin").is_none());
        assert_eq!(Cors::parse("*"), Cors::Any);
    }

    #[test]
    fn surrogate_keys_do_not_repeat() {
        assert_eq!(surrogate_keys(["a", "b", "a"], &["search"]), "search a b");
    }
}
