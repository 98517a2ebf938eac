//! Users and their roles and regions (table `users`). Passwords and tokens: `auth.rs`.
//!
//! A user with a region sees only rows whose region falls in it
//! ([`crate::config::scope::covers`]); a user without one sees the pipeline's whole scope.

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_text, DbError, DbResult, ReviewDb};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads only.
    Viewer,
    /// Reads, and works on topics.
    Reviewer,
    /// A reviewer who also manages users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Viewer];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role may change topics.
    pub fn can_review(&self) -> bool {
        matches!(self, Role::Reviewer | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DbError;
    fn from_str(s: &str) -> DbResult<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                DbError::Invalid(format!(
                    "role: expected `admin`, `reviewer` or `viewer`, found `{s}`"
                ))
            })
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A user as the app sees it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// GB/T 2260 code of the region the user sees; `None`: the pipeline's whole scope.
    pub region: Option<String>,
    /// UTC RFC 3339.
    pub created_at: String,
    /// Whether a password is set (no login before `pvwatch user passwd`).
    pub has_password: bool,
}

impl User {
    /// Whether this user sees a row of `region` (`None`: the whole scope, seen by all).
    pub fn sees(&self, region: Option<&str>) -> bool {
        match (&self.region, region) {
            (None, _) | (Some(_), None) => true,
            (Some(mine), Some(r)) => crate::config::scope::covers(std::slice::from_ref(mine), r),
        }
    }

    /// `Ok` when the user's role may change topics, else [`DbError::Forbidden`].
    pub fn require_reviewer(&self, action: &'static str) -> DbResult<()> {
        if self.role.can_review() {
            Ok(())
        } else {
            Err(DbError::Forbidden {
                user: self.name.clone(),
                role: self.role,
                action,
            })
        }
    }
}

pub(super) const USER_COLUMNS: &str =
    "id, name, role, region, created_at, CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password";

pub(super) fn user_from_row(row: &AnyRow) -> DbResult<User> {
    let role: String = row.try_get("role")?;
    let has_password = row.try_get::<i64, _>("has_password")? != 0;
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: role.parse()?,
        region: row.try_get("region")?,
        created_at: row.try_get("created_at")?,
        has_password,
    })
}

/// Check a user name: 1–64 characters, no spaces or control characters.
pub fn check_name(name: &str) -> DbResult<()> {
    let n = name.chars().count();
    if n == 0 || n > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DbError::Invalid(format!(
            "user name: expected 1 to 64 characters without spaces, found `{}`",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Check a region code: a well-formed GB/T 2260 code.
pub fn check_region(region: &str) -> DbResult<()> {
    if !crate::schema::is_region_code(region) {
        return Err(DbError::Invalid(format!(
            "region: expected a 6-digit GB/T 2260 region code, found `{region}`"
        )));
    }
    Ok(())
}

impl ReviewDb {
    /// Add a user (no password yet). The name is unique.
    pub async fn add_user(&self, name: &str, role: Role, region: Option<&str>) -> DbResult<User> {
        check_name(name)?;
        if let Some(r) = region {
            check_region(r)?;
        }
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "UPDATE counters SET next_id = next_id + 1 WHERE name = 'users' RETURNING next_id",
        )
        .fetch_one(&mut *tx)
        .await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            return Err(DbError::UserExists(name.to_string()));
        }
        let inserted = sqlx::query(
            "INSERT INTO users (id, name, role, region, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(name)
        .bind(role.as_str())
        .bind(region)
        .bind(now_text())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            // A concurrent add of the same name (PostgreSQL: both passed the check).
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(DbError::UserExists(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        self.user(name).await
    }

    /// The user of this name, or [`DbError::UnknownUser`].
    pub async fn user(&self, name: &str) -> DbResult<User> {
        self.find_user(name)
            .await?
            .ok_or_else(|| DbError::UnknownUser(name.to_string()))
    }

    pub async fn find_user(&self, name: &str) -> DbResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_id(&self, id: i64) -> DbResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Every user, by name.
    pub async fn users(&self) -> DbResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Remove a user with their sessions and tokens. Topics keep the user's name in their
    /// history; topics assigned to them become unassigned.
    pub async fn remove_user(&self, name: &str) -> DbResult<()> {
        let done = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::UnknownUser(name.to_string()));
        }
        Ok(())
    }
}
