//! Who the customer is: the merchant's login when one is wired in (`SIGNED_IN_USER_HEADER`), else
//! the reference server's own cookie sessions.
//!
//! A visitor without a session gets a customerKey in a signed cookie and no database row at all
//! (a flood of visitors writes nothing); the first request after a card is registered turns it
//! into a stored session (`sessions`, only the token's SHA-256 kept), which ends after being idle
//! and after an absolute lifetime, and is rotated daily. Cookies are `HttpOnly; SameSite=Lax`, and
//! `__Host-…; Secure` over HTTPS or with `COOKIE_SECURE=1`.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::sync::Arc;

use crate::clock::{Clock, Millis};
use crate::crypto::Keyring;
use crate::ids;
use crate::settings::IdentitySource;
use crate::store::{Store, StoreError};

/// The cookie's name over plain HTTP (the demo on 127.0.0.1).
pub const COOKIE: &str = "billing_sid";
/// Its name when Secure: the `__Host-` prefix pins it to this host and `Path=/`.
pub const SECURE_COOKIE: &str = "__Host-billing_sid";

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Where identity comes from.
    pub identity: IdentitySource,
    /// A stored session ends after this long unused.
    pub idle: Duration,
    /// …and after this long whatever happens.
    pub max_age: Duration,
    /// A visitor's signed cookie (no row) lasts this long.
    pub visitor_lifetime: Duration,
    /// A stored session gets a new token when older than this.
    pub rotate_after: Duration,
    /// Secure cookies on every request.
    pub always_secure: bool,
    /// Believe `X-Forwarded-Proto`.
    pub trust_proxy_headers: bool,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The merchant's signed-in user, or a stored session.
    Customer {
        /// Their customerKey.
        customer_key: String,
    },
    /// A visitor with a signed cookie and no row yet.
    Visitor {
        /// The customerKey their cookie carries.
        customer_key: String,
    },
    /// Nobody we know.
    Nobody,
}

impl Caller {
    /// The caller's customerKey, if any.
    pub fn customer_key(&self) -> Option<&str> {
        match self {
            Caller::Customer { customer_key } | Caller::Visitor { customer_key } => {
                Some(customer_key)
            }
            Caller::Nobody => None,
        }
    }
}

/// The session service. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    keyring: Arc<Keyring>,
    clock: Clock,
    settings: Arc<SessionSettings>,
}

/// A caller, and the cookie to set on the answer, if any.
#[derive(Debug)]
pub struct Identified {
    /// Who.
    pub caller: Caller,
    /// `Set-Cookie` to send back (a new or rotated session).
    pub set_cookie: Option<HeaderValue>,
}

const VISITOR: &str = "v1";
const STORED: &str = "s1";

impl Sessions {
    /// The service.
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        clock: Clock,
        settings: SessionSettings,
    ) -> Sessions {
        Sessions {
            store,
            keyring,
            clock,
            settings: Arc::new(settings),
        }
    }

    fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.always_secure
            || (self.settings.trust_proxy_headers
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }

    fn cookie_value(headers: &HeaderMap) -> Option<&str> {
        let pairs = || {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|kv| kv.trim().split_once('='))
        };
        pairs()
            .find(|(k, _)| *k == SECURE_COOKIE)
            .or_else(|| pairs().find(|(k, _)| *k == COOKIE))
            .map(|(_, v)| v.trim())
    }

    fn set_cookie(
        &self,
        headers: &HeaderMap,
        value: &str,
        max_age: Duration,
    ) -> Option<HeaderValue> {
        let (name, secure) = if self.secure(headers) {
            (SECURE_COOKIE, "; Secure")
        } else {
            (COOKIE, "")
        };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            max_age.as_secs()
        ))
        .ok()
    }

    fn visitor_cookie(&self, customer_key: &str, now: Millis) -> String {
        let message = format!("{VISITOR}.{customer_key}.{}", now / 1000);
        let tag = self.keyring.sign(message.as_bytes());
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
    }

    fn read_visitor(&self, value: &str, now: Millis) -> Option<String> {
        let (message, tag) = value.rsplit_once('.')?;
        let mut parts = message.splitn(3, '.');
        let (kind, customer_key, issued) = (parts.next()?, parts.next()?, parts.next()?);
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if kind != VISITOR || !self.keyring.verify(message.as_bytes(), &tag) {
            return None;
        }
        let issued_ms = issued.parse::<i64>().ok()?.checked_mul(1000)?;
        let lifetime = self.settings.visitor_lifetime.as_millis() as i64;
        if issued_ms > now + 60_000 || issued_ms + lifetime <= now {
            return None;
        }
        toss_billing_contract::check_customer_key(customer_key).ok()?;
        Some(customer_key.to_owned())
    }

    /// Who is calling, without writing anything but a stored session's last use.
    pub async fn identify(&self, headers: &HeaderMap) -> Result<Identified, StoreError> {
        let now = self.clock.now_ms();
        if let IdentitySource::TrustedHeader(name) = &self.settings.identity {
            let caller = match headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
                Some(user) if !user.trim().is_empty() && user.len() <= 200 => {
                    let customer = self
                        .store
                        .customer_for_user(user.trim(), &ids::new_customer_key(), now)
                        .await?;
                    Caller::Customer {
                        customer_key: customer.customer_key,
                    }
                }
                _ => Caller::Nobody,
            };
            return Ok(Identified {
                caller,
                set_cookie: None,
            });
        }
        let Some(value) = Self::cookie_value(headers) else {
            return Ok(Identified {
                caller: Caller::Nobody,
                set_cookie: None,
            });
        };
        if let Some(token) = value.strip_prefix(&format!("{STORED}.")) {
            let hash = ids::sha256_hex(token.as_bytes());
            let idle = self.settings.idle.as_millis() as i64;
            let Some(session) = self.store.live_session(&hash, now, idle).await? else {
                return Ok(Identified {
                    caller: Caller::Nobody,
                    set_cookie: None,
                });
            };
            let mut set_cookie = None;
            if now - session.created_at > self.settings.rotate_after.as_millis() as i64 {
                // Rotation: the old token lives a minute more for requests in flight, and the
                // request that ends it (one UPDATE: the claim) starts the new session. Requests
                // arriving at once with the same cookie (the account page asks four things
                // together) each started one before, and one of them inherited the old token's
                // minute of grace as its whole life: the browser kept that cookie, and the
                // customer was signed out a minute later. The others go on with the old token.
                if self.store.rotate_session(&hash, now, now + 60_000).await? {
                    set_cookie = self
                        .start_session(headers, &session.customer_key, session.expires_at)
                        .await?;
                }
            } else if now - session.last_seen_at > 300_000 {
                self.store.touch_session(&hash, now).await?;
            }
            return Ok(Identified {
                caller: Caller::Customer {
                    customer_key: session.customer_key,
                },
                set_cookie,
            });
        }
        let caller = match self.read_visitor(value, now) {
            Some(customer_key) => Caller::Visitor { customer_key },
            None => Caller::Nobody,
        };
        Ok(Identified {
            caller,
            set_cookie: None,
        })
    }

    /// `GET /api/customer`: the caller's customerKey. A visitor whose card is registered gets a
    /// stored session now; a new visitor gets a signed cookie and no row. `None`: the merchant's
    /// login is the identity and nobody is signed in.
    pub async fn customer_for(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<(String, Option<HeaderValue>)>, StoreError> {
        let identified = self.identify(headers).await?;
        if matches!(self.settings.identity, IdentitySource::TrustedHeader(_)) {
            return Ok(identified
                .caller
                .customer_key()
                .map(|ck| (ck.to_owned(), None)));
        }
        Ok(Some(match identified.caller {
            Caller::Customer { customer_key } => (customer_key, identified.set_cookie),
            Caller::Visitor { customer_key } => {
                if self.store.customer(&customer_key).await?.is_some() {
                    let max_age = self.settings.max_age.as_millis() as i64;
                    let cookie = self
                        .start_session(headers, &customer_key, self.clock.now_ms() + max_age)
                        .await?;
                    (customer_key, cookie)
                } else {
                    (customer_key, None)
                }
            }
            Caller::Nobody => {
                let customer_key = ids::new_customer_key();
                let cookie = self.visitor_cookie(&customer_key, self.clock.now_ms());
                let set = self.set_cookie(headers, &cookie, self.settings.visitor_lifetime);
                (customer_key, set)
            }
        }))
    }

    async fn start_session(
        &self,
        headers: &HeaderMap,
        customer_key: &str,
        expires_at: Millis,
    ) -> Result<Option<HeaderValue>, StoreError> {
        let now = self.clock.now_ms();
        let customer = self.store.ensure_customer(customer_key, now).await?;
        let token = ids::random_token::<32>();
        self.store
            .create_session(
                &ids::sha256_hex(token.as_bytes()),
                customer.id,
                now,
                expires_at,
            )
            .await?;
        let left = Duration::from_millis((expires_at - now).max(0) as u64);
        Ok(self.set_cookie(headers, &format!("{STORED}.{token}"), left))
    }

    /// The cookie a request's caller should have from now on, when it changes: a stored session
    /// due for rotation gets its new token, and a visitor whose card is registered becomes a
    /// stored session (a visitor's signed cookie lasts a day: a subscriber coming back to their
    /// account page next week must still be known). `None`: nothing changes, or identity is the
    /// merchant's login.
    pub async fn renew(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, StoreError> {
        if matches!(self.settings.identity, IdentitySource::TrustedHeader(_))
            || Self::cookie_value(headers).is_none()
        {
            return Ok(None);
        }
        let identified = self.identify(headers).await?;
        if identified.set_cookie.is_some() {
            return Ok(identified.set_cookie);
        }
        match identified.caller {
            Caller::Visitor { customer_key }
                if self.store.customer(&customer_key).await?.is_some() =>
            {
                let expires_at = self.clock.now_ms() + self.settings.max_age.as_millis() as i64;
                self.start_session(headers, &customer_key, expires_at).await
            }
            _ => Ok(None),
        }
    }

    /// Whether the request carries a visitor's cookie (no stored session yet).
    pub fn carries_visitor_cookie(headers: &HeaderMap) -> bool {
        Self::cookie_value(headers).is_some_and(|v| v.starts_with(&format!("{VISITOR}.")))
    }

    /// `headers` with our cookie replaced by the one in `set_cookie` (other cookies kept), so
    /// the handler after a renewal reads the new session, not the one just rotated away.
    pub fn with_renewed_cookie(headers: &mut HeaderMap, set_cookie: &HeaderValue) {
        let Some(pair) = set_cookie
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .map(str::trim)
        else {
            return;
        };
        let mut cookies: Vec<String> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|kv| {
                let name = kv.split_once('=').map_or(*kv, |(k, _)| k);
                !kv.is_empty() && name != COOKIE && name != SECURE_COOKIE
            })
            .map(str::to_owned)
            .collect();
        cookies.push(pair.to_owned());
        if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
            headers.remove(header::COOKIE);
            headers.insert(header::COOKIE, value);
        }
    }

    /// Deletes sessions that ended (housekeeping, with the reconciler).
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        self.store
            .delete_expired_sessions(self.clock.now_ms(), self.settings.idle.as_millis() as i64)
            .await
    }
}
