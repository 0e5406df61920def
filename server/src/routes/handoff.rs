//! `POST /api/billing/issue`: the authKey hand-off (`docs/handoff-contract.md` §2). Parsing and the
//! caller check here; the exactly-once exchange itself is `crate::exchange`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use toss_billing_contract::{
    check_auth_key, check_customer_key, is_valid_idempotency_key, IssueRequest, HANDOFF_PENDING,
};

use super::{rate_limit, AppContext, Limiter};
use crate::error::{error_response, ApiError, ApiJson, ApiResult};
use crate::exchange::{HandoffAnswer, HandoffError};

/// How soon the page should ask again after a `202`.
const RETRY_AFTER_MS: u32 = 1000;

pub fn router(ctx: &AppContext, limiters: &mut Vec<Limiter>) -> Router<AppContext> {
    let limits = &ctx.settings.limits;
    Router::new().route(
        "/api/billing/issue",
        post(issue).layer(rate_limit(
            limits.handoff_per_minute,
            limits.handoff_burst,
            ctx.settings.trust_proxy_headers,
            limiters,
        )),
    )
}

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
    // Whoever hands off a card is a customer from now on (a visitor had no row until now).
    ctx.store
        .ensure_customer(&body.customer_key, ctx.clock.now_ms())
        .await?;
    let answer = match ctx
        .exchanges
        .hand_off(&body.auth_key, &body.customer_key)
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
    let mut response = match answer {
        HandoffAnswer::Final { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        HandoffAnswer::Pending => error_response(
            StatusCode::ACCEPTED,
            HANDOFF_PENDING,
            "카드 등록을 확인하고 있습니다. 같은 요청으로 다시 확인해 주세요.",
            Some(RETRY_AFTER_MS),
        ),
    };
    if let Some(cookie) = identified.set_cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
