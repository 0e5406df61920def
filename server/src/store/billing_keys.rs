//! Stored billing keys (sealed; written by `exchanges::finish_exchange_registered`).

use sqlx::FromRow;

use super::subscriptions::insert_event;
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
    /// Who deleted it: `TOSS` (the `BILLING_DELETED` webhook) or `CUSTOMER` (removed).
    pub deleted_reason: Option<String>,
    /// When the sealed key was overwritten (removed by its customer).
    pub erased_at: Option<i64>,
    /// When Toss confirmed its deletion (`DELETE /v1/billing/{billingKey}`, best effort).
    pub remote_deleted_at: Option<i64>,
    /// Toss's code when the deletion at Toss did not succeed.
    pub remote_delete_code: Option<String>,
}

/// What removing a customer's cards did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// These billing keys (row ids) were erased now (none: there was nothing left to erase).
    Done(Vec<i64>),
    /// The customer has a live subscription: nothing erased.
    LiveSubscription,
}

/// A billing key deleted at Toss (`BILLING_DELETED`), as matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedAtToss {
    /// Its row.
    pub id: i64,
    /// Live subscriptions that charged it (each got `subscription.card_deleted`).
    pub subscriptions: Vec<i64>,
}

impl BillingKeyRow {
    /// Whether it may be charged.
    pub fn is_usable(&self) -> bool {
        self.deleted_at.is_none()
    }
}

const COLUMNS: &str = "id, customer_key, key_id, nonce, ciphertext, card_company, card_number, \
                       card_type, owner_type, created_at, deleted_at, subscription_id, \
                       not_started_code, applied_at, checkout_terms, deleted_reason, erased_at, \
                       remote_deleted_at, remote_delete_code";

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

    /// Every billing key of a customer, oldest first.
    pub async fn customer_billing_keys(
        &self,
        customer_key: &str,
    ) -> StoreResult<Vec<BillingKeyRow>> {
        let sql = format!("SELECT {COLUMNS} FROM billing_keys WHERE customer_key = $1 ORDER BY id");
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, BillingKeyRow>(&sql)
            .bind(customer_key)
            .fetch_all(pool)
            .await)?,
        )
    }

    /// `BILLING_DELETED`: marks the billing key whose SHA-256 is `key_hash` deleted (never charged
    /// again) and records `subscription.card_deleted` on each live subscription that charges it,
    /// in one transaction. `None`: no such key, or it was deleted already (nothing changes).
    pub async fn delete_billing_key_at_toss(
        &self,
        key_hash: &str,
        detail: &str,
        now: i64,
    ) -> StoreResult<Option<DeletedAtToss>> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let deleted: Option<(i64,)> = sqlx::query_as(
                "UPDATE billing_keys SET deleted_at = $1, deleted_reason = 'TOSS' \
                 WHERE key_hash = $2 AND deleted_at IS NULL RETURNING id",
            )
            .bind(now)
            .bind(key_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((id,)) = deleted else {
                return Ok(None);
            };
            let live: Vec<(i64,)> = sqlx::query_as(
                "SELECT id FROM subscriptions WHERE billing_key_id = $1 \
                 AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE') ORDER BY id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for (subscription_id,) in &live {
                insert_event!(tx, *subscription_id, "subscription.card_deleted", detail, now)?;
                // Look at it again now: a past-due subscription stops waiting for this card.
                sqlx::query("UPDATE subscriptions SET next_charge_at = $1 WHERE id = $2 AND next_charge_at IS NOT NULL AND next_charge_at > $1")
                    .bind(now)
                    .bind(*subscription_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(DeletedAtToss { id, subscriptions: live.into_iter().map(|r| r.0).collect() }))
        })
    }

    /// Removes a customer's cards: every billing key not erased yet is overwritten with empty
    /// blobs and marked deleted, in one statement that refuses while the customer has a live
    /// subscription. The charge ledger is untouched (payment records are kept five years).
    pub async fn erase_customer_cards(&self, customer_key: &str, now: i64) -> StoreResult<Erased> {
        let erased: Vec<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "UPDATE billing_keys SET nonce = $2, ciphertext = $2, erased_at = $3, \
             deleted_at = COALESCE(deleted_at, $3), deleted_reason = COALESCE(deleted_reason, 'CUSTOMER') \
             WHERE customer_key = $1 AND erased_at IS NULL AND NOT EXISTS (SELECT 1 FROM subscriptions s \
               WHERE s.customer_key = $1 AND s.status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE')) \
             RETURNING id",
        )
        .bind(customer_key)
        .bind(Vec::<u8>::new())
        .bind(now)
        .fetch_all(pool)
        .await)?;
        if !erased.is_empty() {
            return Ok(Erased::Done(erased.into_iter().map(|r| r.0).collect()));
        }
        let (live,): (i64,) = on_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM subscriptions WHERE customer_key = $1 \
             AND status IN ('TRIALING', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE')",
        )
        .bind(customer_key)
        .fetch_one(pool)
        .await)?;
        Ok(if live > 0 {
            Erased::LiveSubscription
        } else {
            Erased::Done(Vec::new())
        })
    }

    /// Records the outcome of the best-effort deletion at Toss.
    pub async fn set_remote_deletion(
        &self,
        id: i64,
        deleted: bool,
        code: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE billing_keys SET remote_deleted_at = CASE WHEN $1 THEN $2 ELSE remote_deleted_at END, \
             remote_delete_code = $3 WHERE id = $4",
        )
        .bind(deleted)
        .bind(now)
        .bind(code)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
