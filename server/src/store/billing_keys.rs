//! Stored billing keys (sealed; written by `exchanges::finish_exchange_registered`).

use sqlx::FromRow;

use super::{on_pool, Store, StoreResult};

/// A billing key as stored: sealed, with the card's display fields.
#[derive(Debug, Clone, FromRow)]
pub struct BillingKeyRow {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub customer_key: String,
    /// Encryption key id (`None`: the v1 demo key file).
    pub key_id: Option<String>,
    /// AES-GCM nonce.
    pub nonce: Vec<u8>,
    /// AES-GCM ciphertext.
    pub ciphertext: Vec<u8>,
    /// Card company.
    pub card_company: Option<String>,
    /// Masked number.
    pub card_number: Option<String>,
    /// 신용/체크….
    pub card_type: Option<String>,
    /// 개인/법인.
    pub owner_type: Option<String>,
    /// When stored (ms).
    pub created_at: i64,
    /// When deleted (at Toss, or by its customer): never charged again.
    pub deleted_at: Option<i64>,
    /// The subscription it was applied to.
    pub subscription_id: Option<i64>,
    /// Why a registration on a checkout session started no subscription.
    pub not_started_code: Option<String>,
    /// When it was applied to subscriptions.
    pub applied_at: Option<i64>,
    /// The checkout terms it was registered on (JSON), if any.
    pub checkout_terms: Option<String>,
}

impl BillingKeyRow {
    /// Whether it may be charged.
    pub fn is_usable(&self) -> bool {
        self.deleted_at.is_none()
    }
}

const COLUMNS: &str = "id, customer_key, key_id, nonce, ciphertext, card_company, card_number, \
                       card_type, owner_type, created_at, deleted_at, subscription_id, \
                       not_started_code, applied_at, checkout_terms";

impl Store {
    /// The customer's most recently registered billing key.
    pub async fn latest_billing_key(
        &self,
        customer_key: &str,
    ) -> StoreResult<Option<BillingKeyRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM billing_keys WHERE customer_key = $1 ORDER BY id DESC LIMIT 1"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, BillingKeyRow>(&sql)
            .bind(customer_key)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// One billing key by row id.
    pub async fn billing_key(&self, id: i64) -> StoreResult<Option<BillingKeyRow>> {
        let sql = format!("SELECT {COLUMNS} FROM billing_keys WHERE id = $1");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, BillingKeyRow>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// How many billing keys a customer has (tests, operators).
    pub async fn count_billing_keys(&self, customer_key: &str) -> StoreResult<i64> {
        let (n,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM billing_keys WHERE customer_key = $1",
        )
        .bind(customer_key)
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }
}
