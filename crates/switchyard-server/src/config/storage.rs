//! `general_settings.database_url`: where keys, users, teams and spend records are kept,
//! validated into [`Database`]. LiteLLM reads `DATABASE_URL` when the key is unset; so do we,
//! and without either the gateway keeps them in a SQLite file in its working directory.
//! URLs may hold passwords: they never reach `Debug` output or error messages.

use std::fmt;

use super::ConfigError;
use super::file::Secret;
use super::settings::resolve;

/// The SQLite file used when neither `database_url` nor `DATABASE_URL` names a database.
pub const DEFAULT_SQLITE_PATH: &str = "switchyard.db";

/// A database for the gateway's durable state.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (or `:memory:`).
    Sqlite(String),
    /// A PostgreSQL server, by URL.
    Postgres(String),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.write_str("Postgres([redacted])"),
        }
    }
}

/// Reads `general_settings.database_url`, else `DATABASE_URL` from `env`.
pub fn database(
    url: Option<&Secret>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Database, ConfigError> {
    let path = "general_settings.database_url";
    let url = match url {
        Some(url) => resolve(path, &url.0, env)?,
        None => match env("DATABASE_URL").filter(|url| !url.trim().is_empty()) {
            Some(url) => url,
            None => return Ok(Database::Sqlite(DEFAULT_SQLITE_PATH.to_owned())),
        },
    };
    let url = url.trim();
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(Database::Postgres(url.to_owned())),
        Some("sqlite") => {
            let file = url.trim_start_matches("sqlite:").trim_start_matches("//");
            if file.is_empty() {
                return Err(ConfigError::invalid(path, "names no SQLite file"));
            }
            Ok(Database::Sqlite(file.to_owned()))
        }
        _ => Err(ConfigError::invalid(
            path,
            "must be a `postgresql://` or `sqlite://` URL",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_default_is_a_sqlite_file_unless_database_url_is_set() {
        assert_eq!(
            database(None, &no_env).expect("valid"),
            Database::Sqlite(DEFAULT_SQLITE_PATH.to_owned())
        );
        let env = |name: &str| {
            (name == "DATABASE_URL").then(|| "postgresql://u:pw@db:5432/gw".to_owned())
        };
        let db = database(None, &env).expect("valid");
        assert_eq!(
            db,
            Database::Postgres("postgresql://u:pw@db:5432/gw".to_owned())
        );
        assert!(!format!("{db:?}").contains("pw"));
    }

    #[test]
    fn sqlite_urls_name_their_file_and_other_schemes_fail() {
        let url = |u: &str| Secret(u.to_owned());
        for (given, file) in [
            ("sqlite://data/gw.db", "data/gw.db"),
            ("sqlite:gw.db", "gw.db"),
            ("sqlite::memory:", ":memory:"),
        ] {
            assert_eq!(
                database(Some(&url(given)), &no_env).expect(given),
                Database::Sqlite(file.to_owned())
            );
        }
        let err = database(Some(&url("mysql://root:pw@db/gw")), &no_env).expect_err("mysql");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
