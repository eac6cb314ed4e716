//! Rows of `providers` and `provider_headers` to and from [`ProviderRecord`]. Nothing here
//! checks input: the registry validates before it stores. Reading refuses rows this build cannot
//! understand ([`RegistryError::Corrupt`]) rather than guessing.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{
    ExtraHeader, ExtraHeaderValue, MaxTokensField, OpenAiCompatOptions, ProviderKind,
    ProviderRecord, ProviderTier, RegistryError, Timeouts,
};
use crate::secrets::SecretHandle;

// Static SQL only (concat!, never format!), so no value can ever reach the query text.
macro_rules! columns {
    () => {
        "provider_id, display_name, kind, tier, base_url, secret_handle, default_model, \
         connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms, total_timeout_ms, max_tokens_field, \
         stream_include_usage, proxy_url, created_at, updated_at"
    };
}

/// Timestamps are stored as RFC 3339 UTC with milliseconds; records carry the same precision so
/// a stored record reads back equal.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn max_tokens_field_str(f: MaxTokensField) -> &'static str {
    match f {
        MaxTokensField::MaxTokens => "max_tokens",
        MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
    }
}

/// Inserts a new provider and its headers. A taken id is [`RegistryError::DuplicateId`].
pub async fn insert(conn: &mut SqliteConnection, r: &ProviderRecord) -> Result<(), RegistryError> {
    const SQL: &str = concat!(
        "INSERT INTO providers (",
        columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    bind_record(sqlx::query(SQL), r)
        .execute(&mut *conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => RegistryError::DuplicateId {
                id: r.provider_id.clone(),
            },
            other => RegistryError::Db(other),
        })?;
    insert_headers(conn, r).await
}

/// Replaces a stored provider (matched by id) and its headers.
pub async fn update(conn: &mut SqliteConnection, r: &ProviderRecord) -> Result<(), RegistryError> {
    let result = sqlx::query(
        "UPDATE providers SET display_name = ?, kind = ?, tier = ?, base_url = ?, secret_handle = ?, \
         default_model = ?, connect_timeout_ms = ?, first_byte_timeout_ms = ?, idle_timeout_ms = ?, \
         total_timeout_ms = ?, max_tokens_field = ?, stream_include_usage = ?, proxy_url = ?, \
         updated_at = ? WHERE provider_id = ?",
    )
    .bind(&r.display_name)
    .bind(r.kind.as_str())
    .bind(r.tier.as_str())
    .bind(&r.base_url)
    .bind(r.secret_handle.as_ref().map(SecretHandle::as_str))
    .bind(&r.default_model)
    .bind(ms(r.timeouts.connect_ms))
    .bind(ms(r.timeouts.first_byte_ms))
    .bind(ms(r.timeouts.idle_ms))
    .bind(ms(r.timeouts.total_ms))
    .bind(max_tokens_field_str(r.openai.max_tokens_field))
    .bind(r.openai.stream_include_usage)
    .bind(&r.proxy_url)
    .bind(timestamp(&r.updated_at))
    .bind(&r.provider_id)
    .execute(&mut *conn)
    .await?;
    if result.rows_affected() == 0 {
        return Err(RegistryError::NotFound {
            id: r.provider_id.clone(),
        });
    }
    sqlx::query("DELETE FROM provider_headers WHERE provider_id = ?")
        .bind(&r.provider_id)
        .execute(&mut *conn)
        .await?;
    insert_headers(conn, r).await
}

/// Deletes a provider (its headers go with it); whether it existed.
pub async fn delete(pool: &SqlitePool, provider_id: &str) -> Result<bool, RegistryError> {
    let result = sqlx::query("DELETE FROM providers WHERE provider_id = ?")
        .bind(provider_id)
        .execute(pool)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// The revision of a provider (milliseconds of its `updated_at`), `None` when it is not
/// registered: one indexed read, no secrets.
pub async fn revision(pool: &SqlitePool, provider_id: &str) -> Result<Option<i64>, RegistryError> {
    let updated_at: Option<String> =
        sqlx::query_scalar("SELECT updated_at FROM providers WHERE provider_id = ?")
            .bind(provider_id)
            .fetch_optional(pool)
            .await?;
    updated_at
        .map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.timestamp_millis())
                .map_err(|_| RegistryError::Corrupt {
                    provider_id: provider_id.to_owned(),
                    reason: "updated_at is not a timestamp".into(),
                })
        })
        .transpose()
}

/// One provider.
pub async fn get(
    pool: &SqlitePool,
    provider_id: &str,
) -> Result<Option<ProviderRecord>, RegistryError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM providers WHERE provider_id = ?"
    );
    let Some(row) = sqlx::query(SQL)
        .bind(provider_id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut record = from_row(&row)?;
    record.extra_headers = headers_of(pool, provider_id).await?;
    Ok(Some(record))
}

/// Every provider, ordered by id.
pub async fn list(pool: &SqlitePool) -> Result<Vec<ProviderRecord>, RegistryError> {
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM providers ORDER BY provider_id"
    );
    let rows = sqlx::query(SQL).fetch_all(pool).await?;
    let mut records = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    for record in &mut records {
        record.extra_headers = headers_of(pool, &record.provider_id).await?;
    }
    Ok(records)
}

/// Whether a provider with this id is stored.
pub async fn exists(pool: &SqlitePool, provider_id: &str) -> Result<bool, RegistryError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE provider_id = ?")
        .bind(provider_id)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn bind_record<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    r: &'q ProviderRecord,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    q.bind(&r.provider_id)
        .bind(&r.display_name)
        .bind(r.kind.as_str())
        .bind(r.tier.as_str())
        .bind(&r.base_url)
        .bind(r.secret_handle.as_ref().map(SecretHandle::as_str))
        .bind(&r.default_model)
        .bind(ms(r.timeouts.connect_ms))
        .bind(ms(r.timeouts.first_byte_ms))
        .bind(ms(r.timeouts.idle_ms))
        .bind(ms(r.timeouts.total_ms))
        .bind(max_tokens_field_str(r.openai.max_tokens_field))
        .bind(r.openai.stream_include_usage)
        .bind(&r.proxy_url)
        .bind(timestamp(&r.created_at))
        .bind(timestamp(&r.updated_at))
}

async fn insert_headers(
    conn: &mut SqliteConnection,
    r: &ProviderRecord,
) -> Result<(), RegistryError> {
    for (position, header) in r.extra_headers.iter().enumerate() {
        let (value, handle) = match &header.value {
            ExtraHeaderValue::Plain { value } => (Some(value.as_str()), None),
            ExtraHeaderValue::Secret { handle } => (None, Some(handle.as_str())),
        };
        sqlx::query(
            "INSERT INTO provider_headers (provider_id, position, name, value, secret_handle) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&r.provider_id)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(&header.name)
        .bind(value)
        .bind(handle)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn headers_of(
    pool: &SqlitePool,
    provider_id: &str,
) -> Result<Vec<ExtraHeader>, RegistryError> {
    let rows = sqlx::query(
        "SELECT name, value, secret_handle FROM provider_headers WHERE provider_id = ? ORDER BY position",
    )
    .bind(provider_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let value: Option<String> = row.try_get("value")?;
            let handle: Option<String> = row.try_get("secret_handle")?;
            let value = match (value, handle) {
                (Some(value), None) => ExtraHeaderValue::Plain { value },
                (None, Some(handle)) => ExtraHeaderValue::Secret {
                    handle: SecretHandle::new(handle),
                },
                _ => {
                    return Err(RegistryError::Corrupt {
                        provider_id: provider_id.to_owned(),
                        reason: format!(
                            "header {name:?} has neither or both of a value and a secret handle"
                        ),
                    })
                }
            };
            Ok(ExtraHeader { name, value })
        })
        .collect()
}

fn from_row(row: &SqliteRow) -> Result<ProviderRecord, RegistryError> {
    let provider_id: String = row.try_get("provider_id")?;
    let corrupt = |reason: String| RegistryError::Corrupt {
        provider_id: provider_id.clone(),
        reason,
    };
    let kind: String = row.try_get("kind")?;
    let tier: String = row.try_get("tier")?;
    let field: String = row.try_get("max_tokens_field")?;
    let max_tokens_field = match field.as_str() {
        "max_tokens" => MaxTokensField::MaxTokens,
        "max_completion_tokens" => MaxTokensField::MaxCompletionTokens,
        other => return Err(corrupt(format!("unknown max_tokens_field {other:?}"))),
    };
    let time = |column: &str| -> Result<DateTime<Utc>, RegistryError> {
        let text: String = row.try_get(column)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| corrupt(format!("{column}: {e}")))
    };
    let timeout = |column: &str| -> Result<u64, RegistryError> {
        let value: i64 = row.try_get(column)?;
        u64::try_from(value).map_err(|_| corrupt(format!("{column} is negative")))
    };
    let secret_handle: Option<String> = row.try_get("secret_handle")?;
    Ok(ProviderRecord {
        display_name: row.try_get("display_name")?,
        kind: kind
            .parse::<ProviderKind>()
            .map_err(|e| corrupt(e.to_string()))?,
        tier: tier
            .parse::<ProviderTier>()
            .map_err(|e| corrupt(e.to_string()))?,
        base_url: row.try_get("base_url")?,
        secret_handle: secret_handle.map(SecretHandle::new),
        default_model: row.try_get("default_model")?,
        extra_headers: Vec::new(),
        timeouts: Timeouts {
            connect_ms: timeout("connect_timeout_ms")?,
            first_byte_ms: timeout("first_byte_timeout_ms")?,
            idle_ms: timeout("idle_timeout_ms")?,
            total_ms: timeout("total_timeout_ms")?,
        },
        openai: OpenAiCompatOptions {
            max_tokens_field,
            stream_include_usage: row.try_get("stream_include_usage")?,
        },
        proxy_url: row.try_get("proxy_url")?,
        created_at: time("created_at")?,
        updated_at: time("updated_at")?,
        provider_id: provider_id.clone(),
    })
}

/// The namespace of this database's keychain handles.
pub async fn keychain_namespace(pool: &SqlitePool) -> Result<String, RegistryError> {
    Ok(
        sqlx::query_scalar("SELECT namespace FROM provider_keychain_namespace WHERE id = 1")
            .fetch_one(pool)
            .await?,
    )
}
