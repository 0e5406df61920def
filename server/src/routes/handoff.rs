//! `POST /api/billing/issue`: the authKey hand-off (`docs/handoff-contract.md` §2). Parsing and the
//! caller check here; the exactly-once exchange itself is `crate::exchange`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use toss_billing_contract::{
    check_auth_key, check_customer_key, is_valid_idempotency_key, ErrorBody, IssueRegistered,
    IssueRequest, HANDOFF_PENDING,
};

use super::{rate_limit, AppContext, Limiter};
use crate::billing::lifecycle::Status;
use crate::checkout::{SessionError, SessionTerms};
use crate::error::{error_response, ApiError, ApiJson, ApiResult};
use crate::exchange::{HandoffAnswer, HandoffError};
use crate::metrics::RateLimit;
use crate::subscription::registration::RegistrationOutcome;

/// How soon the page should ask again after a `202`.
const RETRY_AFTER_MS: u32 = 1000;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    Router::new().route(
        "/api/billing/issue",
        post(issue).layer(rate_limit(ctx, RateLimit::Handoff, limiters)),
    )
}

/// The OpenAPI description of this route.
#[derive(utoipa::OpenApi)]
#[openapi(paths(issue))]
pub(super) struct Doc;

/// `POST /api/billing/issue`: the hand-off.
#[utoipa::path(
    post,
    path = "/api/billing/issue",
    tag = "hand-off",
    summary = "Exchange the authKey for a billing key (the hand-off)",
    description = "The page sends the one-time authKey from Toss's success redirect. The exchange runs exactly once per authKey, in a task the request does not own; every replay of the same body gets the same final answer. A final answer is `200` or a documented 4xx (forget the authKey); anything else (`202`, `408`, `409`, `425`, `429`, `5xx`, an unreadable body) means: ask again with the same body (`docs/handoff-contract.md` §2). With a checkout session, the subscription starts on its terms and its first charge runs now.",
    security(("sessionCookie" = []), ("signedInUser" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Optional, 1-300 visible ASCII characters: the authKey already names the exchange."),
    ),
    request_body = IssueRequest,
    responses(
        (status = 200, description = "Registered (final): the card, and what happened to the subscription.", body = IssueRegistered),
        (status = 202, description = "`HANDOFF_PENDING`: the exchange goes on; ask again with the same body after `retryAfterMs`.", body = ErrorBody),
        (status = 400, description = "`INVALID_REQUEST`: authKey, customerKey or Idempotency-Key malformed. `CHECKOUT_SESSION_INVALID`: the checkout session cannot be read. Toss's own refusals of the authKey (e.g. `INVALID_AUTH_KEY`) are final answers with Toss's code.", body = ErrorBody),
        (status = 403, description = "`CUSTOMER_KEY_MISMATCH`: the customerKey, the authKey or the checkout session is another customer's. Toss's refusals (e.g. `INVALID_STOPPED_CARD`) keep Toss's code.", body = ErrorBody),
        (status = 410, description = "`CHECKOUT_SESSION_EXPIRED`: start again from the checkout.", body = ErrorBody),
        (status = 422, description = "`CHECKOUT_SESSION_USED`: the session already started a subscription. `TRIAL_ALREADY_USED`: this customer had this plan's trial.", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: the hand-off rate limit of this address (`retryAfterMs`); not final.", body = ErrorBody),
    )
)]
async fn issue(
    State(ctx): State<AppContext>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<Response> {
    check_auth_key(&body.auth_key).map_err(|_| {
        ApiError::InvalidRequest("authKey must be 1-300 visible ASCII characters".into())
    })?;
    check_customer_key(&body.customer_key).map_err(|_| {
        ApiError::InvalidRequest(
            "customerKey must be 2-50 characters of A-Z a-z 0-9 - _ = . @".into(),
        )
    })?;
    if let Some(given) = headers.get("idempotency-key") {
        if !given.to_str().is_ok_and(is_valid_idempotency_key) {
            return Err(ApiError::InvalidRequest(
                "Idempotency-Key must be 1-300 visible ASCII characters".into(),
            ));
        }
    }
    let identified = ctx.sessions.identify(&headers).await?;
    if identified.caller.customer_key() != Some(body.customer_key.as_str()) {
        return Err(ApiError::CustomerKeyMismatch(
            "이 customerKey는 현재 세션의 고객 것이 아닙니다.",
        ));
    }
    let started = tokio::time::Instant::now();
    let terms = checkout_terms(&ctx, &body).await?;
    // Whoever hands off a card is a customer from now on (a visitor had no row until now).
    ctx.store
        .ensure_customer(&body.customer_key, ctx.clock.now_ms())
        .await?;
    let answer = match ctx
        .exchanges
        .hand_off(&body.auth_key, &body.customer_key, terms.as_deref())
        .await
    {
        Ok(answer) => answer,
        Err(HandoffError::OtherCustomer) => {
            return Err(ApiError::CustomerKeyMismatch(
                "이 authKey는 다른 고객의 것입니다.",
            ))
        }
        Err(HandoffError::Store(e)) => return Err(e.into()),
    };
    let pending = || {
        error_response(
            StatusCode::ACCEPTED,
            HANDOFF_PENDING,
            "카드 등록을 확인하고 있습니다. 같은 요청으로 다시 확인해 주세요.",
            Some(RETRY_AFTER_MS),
        )
    };
    let mut response = match answer {
        HandoffAnswer::Final {
            status: 200,
            body,
            billing_key_id: Some(key),
        } => {
            // The card is stored; the answer also says what happened to the subscription (the
            // first charge runs now, within what is left of the wait).
            let left = ctx.settings.handoff_wait.saturating_sub(started.elapsed());
            match ctx.subscriptions.registration_outcome(key, left).await? {
                RegistrationOutcome::Pending => pending(),
                RegistrationOutcome::CardOnly => json_answer(StatusCode::OK, body),
                RegistrationOutcome::Final(outcome) => {
                    let mut registered: IssueRegistered =
                        serde_json::from_str(&body).map_err(|_| {
                            ApiError::Conflict("the stored answer is unreadable".into())
                        })?;
                    registered.subscription = Some(outcome);
                    json_answer(
                        StatusCode::OK,
                        serde_json::to_string(&registered).expect("plain data"),
                    )
                }
            }
        }
        HandoffAnswer::Final { status, body, .. } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_answer(status, body)
        }
        HandoffAnswer::Pending => pending(),
    };
    if let Some(cookie) = identified.set_cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn json_answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The checkout terms this hand-off starts a subscription on (JSON), checked before anything is
/// written, so a session that cannot be used mints no billing key and charges nothing. A replay
/// of a hand-off already written keeps the terms it was written with, whatever the session's age.
async fn checkout_terms(ctx: &AppContext, body: &IssueRequest) -> ApiResult<Option<String>> {
    let Some(token) = &body.checkout_session else {
        return Ok(None);
    };
    if let Some(existing) = ctx.exchanges.existing(&body.auth_key).await? {
        return Ok(existing.checkout_terms);
    }
    let refused = |status, code, message: &str| ApiError::Refused {
        status,
        code,
        message: message.to_owned(),
    };
    let terms = SessionTerms::open(token, &ctx.keyring).map_err(|_| {
        refused(
            StatusCode::BAD_REQUEST,
            "CHECKOUT_SESSION_INVALID",
            "이 결제 정보는 확인할 수 없어요. 처음부터 다시 시도해 주세요.",
        )
    })?;
    let now = ctx.clock.now_ms();
    // A session whose first charge was declined takes another card until its subscription
    // expires (23 hours), however old the session is.
    let used_by = ctx.store.subscription_by_session(&terms.id).await?;
    let recarding = used_by
        .as_ref()
        .is_some_and(|s| s.status == Status::Incomplete && s.customer_key == body.customer_key);
    if terms.customer_key != body.customer_key {
        return Err(ApiError::CustomerKeyMismatch(
            "이 결제 정보는 현재 세션의 고객 것이 아닙니다.",
        ));
    }
    if used_by.is_some() && !recarding {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "CHECKOUT_SESSION_USED",
            "이 결제 정보로는 이미 구독이 시작되었어요.",
        ));
    }
    match terms.check(&body.customer_key, now) {
        Ok(()) => {}
        Err(SessionError::Expired) if recarding => {}
        Err(SessionError::Expired) => {
            return Err(refused(
                StatusCode::GONE,
                "CHECKOUT_SESSION_EXPIRED",
                "결제 정보의 유효 시간이 지났어요. 처음부터 다시 시도해 주세요.",
            ))
        }
        Err(SessionError::OtherCustomer | SessionError::Unknown) => {
            unreachable!("an opened session of this customer")
        }
    }
    if terms.trial_days > 0
        && used_by.is_none()
        && ctx
            .store
            .had_trial(&body.customer_key, &terms.plan_id)
            .await?
    {
        return Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "TRIAL_ALREADY_USED",
            "이 플랜의 무료 체험은 이미 사용했어요.",
        ));
    }
    Ok(Some(serde_json::to_string(&terms).expect("plain data")))
}
