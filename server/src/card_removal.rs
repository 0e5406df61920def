//! A customer removes their card (`DELETE /api/customer/card`): allowed only without a live
//! subscription (TRIALING, INCOMPLETE, ACTIVE, PAST_DUE). Charging stops at once (the keys are
//! marked deleted: `charge` refuses a deleted key without calling Toss), the billing keys are
//! erased from the database (empty blobs over the sealed key; the charge ledger stays — payment
//! records are kept five years, 전자상거래법 §6), and each key is deleted at Toss with
//! `DELETE /v1/billing/{billingKey}`, best effort: Toss's billing guide says issued keys cannot be
//! deleted while its webhook reference names a deletion API (toss-billing-contract.md §10). The
//! keys are opened before they are erased; the remote deletion runs in a task that outlives the
//! request, and a crash before it is made leaves the key at Toss — unusable to anyone without it,
//! and erased here.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::crypto::Keyring;
use crate::ids;
use crate::store::billing_keys::{BillingKeyRow, Erased};
use crate::store::{Store, StoreError};
use crate::toss::{TossClient, TossError};

/// One removed card and what Toss said about deleting it.
#[derive(Debug, Clone)]
pub struct RemovedCard {
    /// The card as it was stored (masked number, company).
    pub card: BillingKeyRow,
    /// `Some(true)`: deleted at Toss; `Some(false)`: Toss refused or failed (`code`); `None`: not
    /// asked (Toss deleted it first, or the key could not be opened) or not answered in time.
    pub deleted_at_toss: Option<bool>,
    /// Toss's code when it did not delete it.
    pub code: Option<String>,
}

/// Why nothing was removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// A live subscription charges the card: cancel it first.
    #[error("a live subscription uses this card: cancel the subscription first")]
    LiveSubscription,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What removal needs.
pub struct Removal<'a> {
    /// The database.
    pub store: &'a Store,
    /// To open the keys before they are erased.
    pub keyring: &'a Arc<Keyring>,
    /// For the remote deletion.
    pub toss: &'a TossClient,
    /// The clock.
    pub clock: &'a Clock,
    /// Tasks that outlive the request.
    pub tasks: &'a TaskTracker,
    /// How long the answer waits for Toss.
    pub wait: Duration,
}

impl Removal<'_> {
    /// Removes every card of `customer_key` not removed yet. Removing again removes nothing (a
    /// safe retry).
    pub async fn remove(&self, customer_key: &str) -> Result<Vec<RemovedCard>, RemoveError> {
        let keys: Vec<BillingKeyRow> = self
            .store
            .customer_billing_keys(customer_key)
            .await?
            .into_iter()
            .filter(|k| k.erased_at.is_none())
            .collect();
        let opened: Vec<Option<String>> = keys
            .iter()
            .map(|k| {
                self.keyring
                    .open(
                        k.key_id.as_deref(),
                        &k.nonce,
                        &k.ciphertext,
                        k.customer_key.as_bytes(),
                    )
                    .and_then(|b| String::from_utf8(b).ok())
            })
            .collect();
        let erased = match self
            .store
            .erase_customer_cards(customer_key, self.clock.now_ms())
            .await?
        {
            Erased::LiveSubscription => return Err(RemoveError::LiveSubscription),
            Erased::Done(ids) => ids,
        };
        let mut removed = Vec::new();
        let mut asks = Vec::new();
        for (key, billing_key) in keys.into_iter().zip(opened) {
            if !erased.contains(&key.id) {
                continue;
            }
            tracing::info!(
                billing_key_id = key.id,
                "card removed by its customer; billing key erased"
            );
            // Toss deleted it itself (BILLING_DELETED): nothing to ask.
            let ask = billing_key.filter(|_| key.deleted_reason.as_deref() != Some("TOSS"));
            if let Some(billing_key) = ask {
                let (store, toss, clock, id) = (
                    self.store.clone(),
                    self.toss.clone(),
                    self.clock.clone(),
                    key.id,
                );
                asks.push((
                    removed.len(),
                    self.tasks.spawn(async move {
                        let result = toss.delete_billing_key(&billing_key).await;
                        let code = result.as_ref().err().map(TossError::code);
                        match &code {
                            None => tracing::info!(billing_key = ids::log_tag(&billing_key), "billing key deleted at Toss"),
                            Some(code) => tracing::warn!(billing_key = ids::log_tag(&billing_key), code, "Toss did not delete the billing key (best effort: it is erased here)"),
                        }
                        if let Err(e) = store
                            .set_remote_deletion(id, code.is_none(), code.as_deref(), clock.now_ms())
                            .await
                        {
                            tracing::warn!(error = %e, "cannot record the deletion at Toss");
                        }
                        code
                    }),
                ));
            }
            removed.push(RemovedCard {
                card: key,
                deleted_at_toss: None,
                code: None,
            });
        }
        for (index, task) in asks {
            if let Ok(Ok(code)) = tokio::time::timeout(self.wait, task).await {
                removed[index].deleted_at_toss = Some(code.is_none());
                removed[index].code = code;
            }
        }
        Ok(removed)
    }
}
