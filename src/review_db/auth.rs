//! Credentials: argon2id password hashes, API tokens and browser sessions stored only as
//! SHA-256 hashes, per-session CSRF tokens, and login throttling records.
//!
//! Hashing runs in `spawn_blocking` (argon2id takes tens of milliseconds on purpose).
//! Secrets are random 32-byte values from the OS, base64url without padding; only their
//! SHA-256 (hex) is stored, so a copy of the database lets no one log in.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::users::{user_from_row, USER_COLUMNS};
use super::{now_text, DbError, DbResult, ReviewDb, User};

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// And longer than this (argon2 input bound, and a guard against huge bodies).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// A login key (user name or client address) is throttled after this many failures…
pub const THROTTLE_FAILURES: i64 = 5;
/// …within this window.
pub const THROTTLE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Prefix of API tokens, so a leaked one is recognisable in logs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "pvw_";

/// A new session: the cookie's token (shown once, to set the cookie) and its CSRF token.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    /// UTC RFC 3339.
    pub expires_at: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("token", &"[redacted]")
            .field("csrf_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A live session, found by its cookie token.
#[derive(Clone)]
pub struct Session {
    pub user: User,
    pub csrf_token: String,
    pub expires_at: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user.name)
            .field("csrf_token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Session {
    /// Whether `given` is this session's CSRF token (constant-time comparison).
    pub fn check_csrf(&self, given: &str) -> bool {
        constant_time_eq(self.csrf_token.as_bytes(), given.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS, base64url.
pub fn random_secret() -> DbResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| DbError::Hash(format!("no randomness from the OS: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of a token, hex: what the database keeps.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check a new password's length.
pub fn check_password(password: &str) -> DbResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(DbError::Invalid(format!(
            "password: expected at least {MIN_PASSWORD_CHARS} characters, found {n}"
        )));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(DbError::Invalid(format!(
            "password: expected at most {MAX_PASSWORD_CHARS} characters, found {n}"
        )));
    }
    Ok(())
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`), with a fresh salt.
pub fn hash_password(password: &str) -> DbResult<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| DbError::Hash(format!("no randomness from the OS: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| DbError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DbError::Hash(e.to_string()))
}

/// Whether `password` matches a stored PHC string (false for a malformed one).
pub fn password_matches(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> DbResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DbError::Hash(format!("hashing task failed: {e}")))
}

/// A PHC string of a password no one knows: verifying against it costs the same as for a
/// real user, so an unknown name is not told apart by timing.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("pvwatch: no such user, no such password")
            .expect("argon2 hashes a fixed short password")
    })
}

impl ReviewDb {
    /// Set (or replace) a user's password. Ends the user's sessions.
    pub async fn set_password(&self, name: &str, password: &str) -> DbResult<()> {
        check_password(password)?;
        let password = password.to_string();
        let phc = blocking(move || hash_password(&password)).await??;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE name = $3",
        )
        .bind(&phc)
        .bind(now_text())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::UnknownUser(name.to_string()));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = $1)")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user, when `password` is theirs; `None` for a wrong password, an unknown user
    /// or a user with no password yet (the caller records the failure).
    pub async fn verify_password(&self, name: &str, password: &str) -> DbResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let (user, phc) = match &row {
            Some(r) => (
                Some(user_from_row(r)?),
                r.try_get::<Option<String>, _>("password_hash")?,
            ),
            None => (None, None),
        };
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
        let password = password.to_string();
        let ok = blocking(move || password_matches(&password, &phc)).await?;
        Ok(if ok && known { user } else { None })
    }

    /// A new API token for a user: returned once, stored as its SHA-256.
    pub async fn new_api_token(&self, name: &str) -> DbResult<String> {
        let user = self.user(name).await?;
        let token = format!("{API_TOKEN_PREFIX}{}", random_secret()?);
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash(&token))
            .bind(user.id)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The user an API token belongs to (`None`: unknown or revoked). Records its use.
    pub async fn user_for_api_token(&self, token: &str) -> DbResult<Option<User>> {
        let hash = token_hash(token);
        let row = sqlx::query(&format!(
            "SELECT {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
            prefixed_user_columns("u")
        ))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
            .bind(now_text())
            .bind(&hash)
            .execute(&self.pool)
            .await?;
        Ok(Some(user_from_row(&row)?))
    }

    /// Revoke every API token of a user; returns how many were live.
    pub async fn revoke_api_tokens(&self, name: &str) -> DbResult<u64> {
        let user = self.user(name).await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now_text())
        .bind(user.id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Start a session for a user, valid for `ttl`.
    pub async fn create_session(&self, user: &User, ttl: chrono::Duration) -> DbResult<NewSession> {
        let token = random_secret()?;
        let csrf_token = random_secret()?;
        let now = chrono::Utc::now();
        let expires_at = (now + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user.id)
        .bind(&csrf_token)
        .bind(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(&expires_at)
        .execute(&self.pool)
        .await?;
        Ok(NewSession {
            token,
            csrf_token,
            expires_at,
        })
    }

    /// The live session of a cookie token (`None`: unknown or expired).
    pub async fn session(&self, token: &str) -> DbResult<Option<Session>> {
        let row = sqlx::query(&format!(
            "SELECT {}, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2",
            prefixed_user_columns("u")
        ))
        .bind(token_hash(token))
        .bind(now_text())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            user: user_from_row(&row)?,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// The user of a live session.
    pub async fn session_user(&self, token: &str) -> DbResult<Option<User>> {
        Ok(self.session(token).await?.map(|s| s.user))
    }

    /// End a session (logout). Ending an unknown one is not an error.
    pub async fn delete_session(&self, token: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Remove expired sessions and old login failures; returns the sessions removed.
    pub async fn purge_expired(&self) -> DbResult<u64> {
        let now = chrono::Utc::now();
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM login_failures WHERE at <= $1")
            .bind((now - THROTTLE_WINDOW).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Record a failed login for a key (a user name, or a client address).
    pub async fn record_login_failure(&self, key: &str) -> DbResult<()> {
        sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether a key has failed [`THROTTLE_FAILURES`] times within [`THROTTLE_WINDOW`].
    pub async fn login_throttled(&self, key: &str) -> DbResult<bool> {
        let since = (chrono::Utc::now() - THROTTLE_WINDOW)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $2")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        Ok(n >= THROTTLE_FAILURES)
    }

    /// Forget a key's failures (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn prefixed_user_columns(alias: &str) -> String {
    format!(
        "{a}.id AS id, {a}.name AS name, {a}.role AS role, {a}.region AS region, \
         {a}.created_at AS created_at, \
         CASE WHEN {a}.password_hash IS NULL THEN 0 ELSE 1 END AS has_password",
        a = alias
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(password_matches("correct horse battery", &a));
        assert!(!password_matches("correct horse batterY", &a));
        assert!(!password_matches(
            "correct horse battery",
            "not a phc string"
        ));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn secrets_are_fresh_and_url_safe() {
        let a = random_secret().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, random_secret().unwrap());
    }

    #[test]
    fn password_length_bounds() {
        assert_eq!(
            check_password("short").unwrap_err().to_string(),
            "password: expected at least 10 characters, found 5"
        );
        assert!(check_password("长长长长长长长长长长").is_ok());
    }

    #[test]
    fn csrf_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
