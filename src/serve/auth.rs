//! Who is asking: a browser session (cookie `pvwatch_session`: HttpOnly, SameSite=Strict,
//! `Secure` with `--secure-cookies`) or an API token (`Authorization: Bearer pvw_…`).
//!
//! The [`ApiStaff`] and [`PageStaff`] extractors authenticate every request that needs a
//! user: anonymous is 401 on the API and a redirect to `/login` on pages. A state change
//! with a cookie session must carry the session's CSRF token (form field `csrf` or header
//! `X-CSRF-Token`), and an `Origin` header, when sent, must be this host; a bearer token
//! is not sent by browsers on their own, so it needs neither. Sessions and tokens live in
//! the review database as SHA-256 hashes ([`crate::review_db::auth`]); a password change
//! ends a user's sessions there.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};

use super::error::{ApiError, AppError};
use super::{scope_of, AppState};
use crate::catalog::RegionScope;
use crate::review_db::auth::API_TOKEN_PREFIX;
use crate::review_db::User;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pvwatch_session";
/// The header that carries the CSRF token of a cookie session (scripts, fetch).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// How a request was authenticated.
#[derive(Clone)]
pub enum Via {
    /// A browser session: its cookie token and CSRF token.
    Session { token: String, csrf: String },
    /// An API token.
    Token,
}

/// An authenticated user, with how they came in.
#[derive(Clone)]
pub struct Staff {
    pub user: User,
    pub via: Via,
    /// False when an unsafe request's `Origin` names another host.
    origin_ok: bool,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff")
            .field("user", &self.user.name)
            .field(
                "via",
                &match self.via {
                    Via::Session { .. } => "session",
                    Via::Token => "token",
                },
            )
            .finish()
    }
}

impl Staff {
    /// The user's region scope for the catalog.
    pub fn scope(&self) -> RegionScope {
        scope_of(&self.user)
    }

    /// 403 unless the user may change topics.
    pub fn require_reviewer(&self) -> Result<(), AppError> {
        if self.user.role.can_review() {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "user `{}` is a {}: viewers cannot change anything",
                self.user.name, self.user.role
            )))
        }
    }

    /// The CSRF token to put in forms (empty for a token user, who has no forms).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }

    /// For a state change: a cookie session must send its CSRF token (`given`) from a
    /// page of this host; an API token needs nothing more.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), AppError> {
        let Via::Session { csrf, .. } = &self.via else {
            return Ok(());
        };
        if !self.origin_ok {
            return Err(AppError::forbidden(
                "the request comes from another site (Origin does not match this host)",
            ));
        }
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), csrf.as_bytes()) => Ok(()),
            Some(_) => Err(AppError::forbidden(
                "the CSRF token does not match this session; reload the page and try again",
            )),
            None => Err(AppError::forbidden(
                "a CSRF token is required (form field `csrf` or header `X-CSRF-Token`)",
            )),
        }
    }

    /// [`Staff::check_csrf`] with the token from the `X-CSRF-Token` header.
    pub fn check_csrf_header(&self, headers: &HeaderMap) -> Result<(), AppError> {
        self.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// Whether an `Origin` header, when present, names the `Host` this request came to.
fn origin_matches(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("");
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    authority.eq_ignore_ascii_case(host)
}

/// The user behind a request: `Ok(None)` when anonymous; a bearer token that is not
/// valid is 401 (a script should hear that its token is wrong).
pub(super) async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Staff>, AppError> {
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        let text = auth.to_str().unwrap_or("");
        let token = text
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| t.starts_with(API_TOKEN_PREFIX))
            .ok_or(AppError::Unauthorized)?;
        let user = state
            .db()
            .user_for_api_token(token)
            .await?
            .ok_or(AppError::Unauthorized)?;
        return Ok(Some(Staff {
            user,
            via: Via::Token,
            origin_ok: true,
        }));
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state.db().session(&token).await? else {
        return Ok(None);
    };
    Ok(Some(Staff {
        user: session.user.clone(),
        via: Via::Session {
            token,
            csrf: session.csrf_token.clone(),
        },
        origin_ok: !unsafe_method || origin_matches(parts),
    }))
}

/// A signed-in user of an API route (401 otherwise).
pub struct ApiStaff(pub Staff);

impl FromRequestParts<AppState> for ApiStaff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match authenticate(parts, state).await? {
            Some(s) => Ok(ApiStaff(s)),
            None => Err(ApiError(AppError::Unauthorized)),
        }
    }
}

/// The `Set-Cookie` value of a session cookie (an empty value with `Max-Age=0` clears it).
pub fn session_cookie(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let mut c = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    );
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("a session token is base64url")
}
