//! A fresh, empty database on a running PostgreSQL, for one test app, stack or data folder.
//! The audio, gateway and root test suites each include this file.

/// Creates the database `<prefix>_<uuid>` on the server that `admin` names (a URL of any of its
/// databases) and answers its URL. The name is made here, from a UUID: nothing from outside
/// goes into the statement.
pub async fn create_database(admin: &str, prefix: &str) -> String {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|err| panic!("{admin} should name a running PostgreSQL: {err}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("creates a test database");
    let (server, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{name}")
}
