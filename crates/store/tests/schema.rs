//! The two migration folders describe one schema (issue 15): both are
//! applied to empty databases — a SQLite file and a fresh PostgreSQL
//! schema — and the resulting tables, columns (type, nullability), primary
//! keys, unique constraints, indexes and foreign keys are compared after
//! normalizing type names (`BIGINT`/`INTEGER` → int, `BLOB`/`BYTEA` →
//! bytes). A migration added to one folder and not the other, or spelled
//! differently, fails here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::BTreeSet;

use sqlx::{AnyPool, Row};

fn kind(declared: &str) -> &'static str {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") {
        "int"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("text") || t.contains("char") {
        "text"
    } else {
        "other"
    }
}

async fn sqlite_schema(pool: &AnyPool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("name"))
    .collect();
    for table in tables {
        let columns = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &columns {
            let name: String = c.get("name");
            let declared: String = c.get("type");
            let pk_pos: i64 = c.get("pk");
            let not_null = c.get::<i64, _>("nn") == 1 || pk_pos > 0;
            out.insert(format!(
                "column {table}.{name} {} {}",
                kind(&declared),
                if not_null { "not null" } else { "null" }
            ));
            if pk_pos > 0 {
                pk.push((pk_pos, name));
            }
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        out.insert(format!("primary key {table}({})", pk.join(",")));
        let indexes = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT name, \"unique\" AS u, origin FROM pragma_index_list('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for i in indexes {
            let name: String = i.get("name");
            let origin: String = i.get("origin");
            if origin == "pk" {
                continue;
            }
            let cols: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
            )))
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect();
            let unique = i.get::<i64, _>("u") == 1;
            // Constraints (origin "u") have generated names on both sides.
            let label = if origin == "c" {
                name
            } else {
                "constraint".into()
            };
            out.insert(format!(
                "{} {table}({}) {label}",
                if unique { "unique index" } else { "index" },
                cols.join(",")
            ));
        }
        let fks = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT \"table\" AS t, \"from\" AS f, \"to\" AS c, on_delete FROM pragma_foreign_key_list('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for fk in fks {
            out.insert(format!(
                "foreign key {table}.{} -> {}.{} on delete {}",
                fk.get::<String, _>("f"),
                fk.get::<String, _>("t"),
                fk.get::<String, _>("c"),
                fk.get::<String, _>("on_delete").to_lowercase()
            ));
        }
    }
    out
}

async fn postgres_schema(pool: &AnyPool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS n
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        out.insert(format!(
            "column {}.{} {} {}",
            c.get::<String, _>("t"),
            c.get::<String, _>("c"),
            kind(&c.get::<String, _>("ty")),
            if c.get::<String, _>("n") == "NO" {
                "not null"
            } else {
                "null"
            }
        ));
    }
    // Every index: primary keys, unique constraints and indexes, with
    // their columns in order.
    for i in sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS i, ix.indisprimary AS p, ix.indisunique AS u,
                EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = ix.indexrelid) AS constraint_backed,
                (SELECT string_agg(a.attname::text, ',' ORDER BY k.n)
                   FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
                   JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS cols
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace s ON s.oid = t.relnamespace
         WHERE s.nspname = current_schema() AND t.relname NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let table: String = i.get("t");
        let cols: String = i.get("cols");
        if i.get::<bool, _>("p") {
            out.insert(format!("primary key {table}({cols})"));
            continue;
        }
        let unique = i.get::<bool, _>("u");
        let label = if i.get::<bool, _>("constraint_backed") {
            "constraint".to_owned()
        } else {
            i.get::<String, _>("i")
        };
        out.insert(format!(
            "{} {table}({cols}) {label}",
            if unique { "unique index" } else { "index" }
        ));
    }
    for fk in sqlx::query(
        "SELECT c.conrelid::regclass::text AS t, a.attname::text AS f,
                c.confrelid::regclass::text AS rt, ra.attname::text AS rc, c.confdeltype::text AS d
         FROM pg_constraint c
         JOIN pg_namespace s ON s.oid = c.connamespace
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
         WHERE c.contype = 'f' AND s.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let on_delete = match fk.get::<String, _>("d").as_str() {
            "c" => "cascade",
            "n" => "set null",
            "r" => "restrict",
            _ => "no action",
        };
        out.insert(format!(
            "foreign key {}.{} -> {}.{} on delete {on_delete}",
            fk.get::<String, _>("t"),
            fk.get::<String, _>("f"),
            fk.get::<String, _>("rt"),
            fk.get::<String, _>("rc"),
        ));
    }
    out
}

#[tokio::test]
async fn both_migration_folders_make_the_same_schema() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("schema.db").display());
    nidan_store::SqlStore::connect(&sqlite_url, 1)
        .await
        .unwrap();
    let sqlite = AnyPool::connect(&format!("{sqlite_url}?mode=ro"))
        .await
        .unwrap();
    let pg_url = nidan_store::testing::fresh_postgres_url().await.unwrap();
    nidan_store::SqlStore::connect(&pg_url, 1).await.unwrap();
    let pg = AnyPool::connect(&pg_url).await.unwrap();
    let a = sqlite_schema(&sqlite).await;
    let b = postgres_schema(&pg).await;
    let only_sqlite: Vec<&String> = a.difference(&b).collect();
    let only_postgres: Vec<&String> = b.difference(&a).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations differ\nonly in SQLite:\n{only_sqlite:#?}\nonly in PostgreSQL:\n{only_postgres:#?}"
    );
    // The comparison sees what matters (a few known entries).
    for expected in [
        "column accounts.email text not null",
        "column methods.secret_sealed bytes null",
        "primary key backup_codes(account_id,code_hash)",
        "unique index accounts(email) constraint",
        "index challenges(account_id) challenges_account",
        "foreign key methods.account_id -> accounts.id on delete cascade",
    ] {
        assert!(a.contains(expected), "{expected} not found in {a:#?}");
    }
    assert!(a.len() > 80, "{a:#?}");
}
