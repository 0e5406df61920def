//! This tab's memory across the redirect to Toss and back: sessionStorage, JSON. Per tab on
//! purpose: a registration started in one tab is finished in that tab only.

use crate::checkout::handoff::HandoffRecord;
use crate::checkout::redirect::PendingRegistration;
use crate::js_data::{self, Fields};

const PENDING: &str = "tossBilling.pending";
const HANDOFF: &str = "tossBilling.handoff";
/// Where the loader (scripts/boot.js) puts Toss's success redirect query, `path \n query`, when
/// it takes the authKey out of the address bar before anything else runs.
const ARRIVAL: &str = "toss-billing-checkout:arrival";

/// sessionStorage is missing or refuses writes (some privacy modes, full quota).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this browser does not let the page keep the registration in session storage")]
pub struct StorageUnavailable;

fn session() -> Result<web_sys::Storage, StorageUnavailable> {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .ok_or(StorageUnavailable)
}

/// A stored record, or `None`: one this version cannot read is treated as absent, never a crash.
fn read<T>(key: &str, from: fn(&Fields) -> Option<T>) -> Option<T> {
    let text = session().ok()?.get_item(key).ok()??;
    from(&Fields::parse(&text)?)
}

fn write(key: &str, text: Option<String>) -> Result<(), StorageUnavailable> {
    let text = text.ok_or(StorageUnavailable)?;
    session()?
        .set_item(key, &text)
        .map_err(|_| StorageUnavailable)
}

fn remove(key: &str) {
    if let Ok(storage) = session() {
        let _ = storage.remove_item(key);
    }
}

/// The redirect query the loader moved out of the address for `path`, once (it is removed).
pub fn take_arrival(path: &str) -> Option<String> {
    let storage = session().ok()?;
    let stored = storage.get_item(ARRIVAL).ok()??;
    let _ = storage.remove_item(ARRIVAL);
    let (moved_from, query) = toss_billing_contract::split_once_ascii(&stored, b'\n')?;
    (moved_from == path).then(|| query.to_owned())
}

/// The registration this tab started, if any.
pub fn load_pending() -> Option<PendingRegistration> {
    read(PENDING, js_data::pending_registration)
}

/// Remembers the registration before the card window opens.
pub fn save_pending(pending: &PendingRegistration) -> Result<(), StorageUnavailable> {
    write(PENDING, js_data::pending_registration_json(pending))
}

/// Forgets the started registration (used once, or ended by a failure on the fail page).
pub fn clear_pending() {
    remove(PENDING);
}

/// Forgets the started registration only if it is still `started`: a checkout whose window was
/// cancelled or aborted must not erase a registration another checkout of this tab started since.
/// Compared as stored, byte for byte (this module wrote both), so the registration page reads no
/// stored record back: the reader is the success page's.
pub fn clear_pending_if(started: &PendingRegistration) {
    let Ok(storage) = session() else {
        return;
    };
    let stored = storage.get_item(PENDING).ok().flatten();
    if stored.is_some() && stored == js_data::pending_registration_json(started) {
        let _ = storage.remove_item(PENDING);
    }
}

/// The last hand-off of this tab.
pub fn load_handoff() -> Option<HandoffRecord> {
    read(HANDOFF, js_data::handoff_record)
}

/// Stores the hand-off (before posting, and after every outcome).
pub fn save_handoff(record: &HandoffRecord) -> Result<(), StorageUnavailable> {
    write(HANDOFF, js_data::handoff_record_json(record))
}
