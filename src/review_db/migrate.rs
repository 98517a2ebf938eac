//! The versioned migrations, embedded in the binary and applied on open.
//!
//! One list serves both backends: each version is one file of portable SQL, except where
//! the dialects cannot share a statement (the append-only triggers of version 2: SQLite's
//! `RAISE(ABORT)` against PostgreSQL's PL/pgSQL trigger function); such a version has a
//! `.sqlite.sql` and a `.postgres.sql` file with the same number and meaning. sqlx's
//! `_sqlx_migrations` table records what ran, with each file's checksum.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::AnyPool;

use super::Backend;

/// (version, description, SQLite SQL, PostgreSQL SQL)
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "review",
        include_str!("../../migrations/0001_review.sql"),
        include_str!("../../migrations/0001_review.sql"),
    ),
    (
        2,
        "audit append only",
        include_str!("../../migrations/0002_audit_append_only.sqlite.sql"),
        include_str!("../../migrations/0002_audit_append_only.postgres.sql"),
    ),
];

/// The migrator for one backend.
pub(super) fn migrator(backend: Backend) -> Migrator {
    let migrations: Vec<Migration> = MIGRATIONS
        .iter()
        .map(|(version, description, sqlite, postgres)| {
            let sql = match backend {
                Backend::Sqlite => *sqlite,
                Backend::Postgres => *postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

pub(super) async fn run(
    pool: &AnyPool,
    backend: Backend,
) -> Result<(), sqlx::migrate::MigrateError> {
    migrator(backend).run(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dense_from_one() {
        for (i, (v, ..)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        let sqlite = migrator(Backend::Sqlite);
        let postgres = migrator(Backend::Postgres);
        assert_eq!(sqlite.iter().count(), postgres.iter().count());
        // Version 1 is the same file for both; version 2 differs by dialect.
        let (s, p): (Vec<_>, Vec<_>) = (sqlite.iter().collect(), postgres.iter().collect());
        assert_eq!(s[0].checksum, p[0].checksum);
        assert_ne!(s[1].checksum, p[1].checksum);
    }
}
