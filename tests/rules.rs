//! Native tests of the pure checkout rules (no browser): keys, URLs, requests, redirects, the
//! hand-off decision, retries, configuration, error classification and copy.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use serde_json::json;
use toss_billing_checkout::checkout::config::{
    Config, ConfigError, CustomerSource, Page, RawConfig,
};
use toss_billing_checkout::checkout::copy::{
    backend_error_text, fail_code_text, sdk_error_text, Locale, Text,
};
use toss_billing_checkout::checkout::handoff::*;
use toss_billing_checkout::checkout::keys::*;
use toss_billing_checkout::checkout::query::*;
use toss_billing_checkout::checkout::redirect::*;
use toss_billing_checkout::checkout::request::*;
use toss_billing_checkout::checkout::sha256::sha256;
use toss_billing_checkout::checkout::urls::*;
use toss_billing_checkout::sdk::SdkError;

const SECRET: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";

// --- keys ----------------------------------------------------------------------------------------

#[test]
fn only_api_client_keys_are_accepted() {
    assert!(ClientKey::parse("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq")
        .unwrap()
        .is_test());
    assert!(!ClientKey::parse("live_ck_abc123").unwrap().is_test());
    assert_eq!(ClientKey::parse(""), Err(KeyError::ClientKeyMissing));
    assert_eq!(ClientKey::parse(SECRET), Err(KeyError::SecretKeyInBrowser));
    assert_eq!(
        ClientKey::parse("live_gsk_abc"),
        Err(KeyError::SecretKeyInBrowser)
    );
    assert_eq!(
        ClientKey::parse("test_gck_abc"),
        Err(KeyError::WidgetClientKey)
    );
    assert_eq!(
        ClientKey::parse("test_ck_"),
        Err(KeyError::UnknownClientKeyKind)
    );
    assert_eq!(
        ClientKey::parse("test_ck_a b"),
        Err(KeyError::UnknownClientKeyKind)
    );
    assert_eq!(
        ClientKey::parse("pk_live_123"),
        Err(KeyError::UnknownClientKeyKind)
    );
}

#[test]
fn refusals_never_repeat_the_key() {
    for key in [
        SECRET,
        "live_gsk_abcdef123456",
        "test_gck_abcdef123456",
        "weird_key_123456",
    ] {
        let message = ClientKey::parse(key).unwrap_err().to_string();
        assert!(!message.contains(&key[5..]), "{message}");
    }
    let debug = format!(
        "{:?}",
        ClientKey::parse("test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq").unwrap()
    );
    assert!(!debug.contains("D5GeP"), "{debug}");
}

#[test]
fn customer_keys_follow_the_toss_rule_and_anonymous_is_refused() {
    assert!(CustomerKey::parse("ab").is_ok());
    assert!(CustomerKey::parse("A-Z_a.z=0@9").is_ok());
    assert!(CustomerKey::parse(&"x".repeat(50)).is_ok());
    assert_eq!(CustomerKey::parse("a"), Err(KeyError::CustomerKeyLength(1)));
    assert_eq!(
        CustomerKey::parse(&"x".repeat(51)),
        Err(KeyError::CustomerKeyLength(51))
    );
    assert_eq!(
        CustomerKey::parse("a b"),
        Err(KeyError::CustomerKeyCharacters)
    );
    assert_eq!(
        CustomerKey::parse("고객"),
        Err(KeyError::CustomerKeyCharacters)
    );
    assert_eq!(
        CustomerKey::parse(ANONYMOUS_CUSTOMER_KEY),
        Err(KeyError::AnonymousCustomer)
    );
    assert_eq!(
        CustomerKey::parse(SECRET),
        Err(KeyError::SecretKeyInBrowser)
    );
}

proptest! {
    #[test]
    fn every_string_of_allowed_characters_and_length_is_a_customer_key(key in "[A-Za-z0-9=._@-]{2,50}") {
        prop_assume!(key != ANONYMOUS_CUSTOMER_KEY && !looks_like_secret_key(&key));
        let parsed = CustomerKey::parse(&key).unwrap();
        prop_assert_eq!(parsed.as_str(), key.as_str());
    }

    #[test]
    fn any_forbidden_character_is_refused(prefix in "[a-z]{1,20}", bad in "[^A-Za-z0-9=._@-]", suffix in "[a-z]{0,20}") {
        let key = format!("{prefix}{bad}{suffix}");
        prop_assert!(CustomerKey::parse(&key).is_err());
    }

    #[test]
    fn query_encoding_round_trips(name in "[a-zA-Z]{1,10}", value in "\\PC{0,40}") {
        let url = append_query("https://shop.example/p", [(name.as_str(), value.as_str())]);
        let query = url.split_once('?').unwrap().1;
        prop_assert_eq!(parse_query(query).unwrap(), vec![(name, value)]);
    }

    #[test]
    fn no_query_string_makes_the_success_page_panic_or_post_unchecked(query in "\\PC{0,200}") {
        // Whatever arrives, with no pending registration nothing is ever sent.
        prop_assert!(!matches!(success_arrival(&query, None, None), SuccessArrival::Send(_)));
        let _ = parse_fail(&query);
    }
}

// --- query and URLs ----------------------------------------------------------------------------

#[test]
fn queries_decode_strictly() {
    assert_eq!(
        parse_query("?a=1&b=%ED%95%9C+x&c").unwrap(),
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "한 x".into()),
            ("c".into(), "".into())
        ]
    );
    assert_eq!(parse_query("a=%zz"), Err(QueryError::BadEscape));
    assert_eq!(parse_query("a=%4"), Err(QueryError::BadEscape));
    assert_eq!(parse_query("a=%ff"), Err(QueryError::NotUtf8));
    assert_eq!(
        without_parameters(
            "?plan=pro&authKey=x&customerKey=y&state=z",
            &["authKey", "customerKey", "state"]
        ),
        "?plan=pro"
    );
    assert_eq!(without_parameters("?authKey=x", &["authKey"]), "");
    assert_eq!(
        without_parameters("?auth%4Bey=x&a=1", &["authKey"]),
        "?a=1",
        "encoded names are scrubbed too"
    );
}

#[test]
fn callback_urls_carry_the_integrators_query_and_the_state() {
    let urls = callback_urls(
        "https://shop.example",
        "/billing/success",
        "/billing/fail?from=checkout",
        &[("plan".into(), "프로 플랜".into())],
        "s1",
    )
    .unwrap();
    assert_eq!(urls.success_url, "https://shop.example/billing/success?plan=%ED%94%84%EB%A1%9C%20%ED%94%8C%EB%9E%9C&state=s1");
    assert_eq!(urls.fail_url, "https://shop.example/billing/fail?from=checkout&plan=%ED%94%84%EB%A1%9C%20%ED%94%8C%EB%9E%9C");
}

#[test]
fn callback_urls_refuse_what_could_leave_the_site_or_confuse_the_redirect() {
    let ok = "https://shop.example";
    assert_eq!(
        callback_urls("file://x", "/s", "/f", &[], "s").unwrap_err(),
        UrlError::BadOrigin
    );
    assert_eq!(
        callback_urls("https://shop.example/path", "/s", "/f", &[], "s").unwrap_err(),
        UrlError::BadOrigin
    );
    for path in ["//evil.example/s", "s", "/a b", "/a#b", "/a\\b"] {
        assert_eq!(
            callback_urls(ok, path, "/f", &[], "s").unwrap_err(),
            UrlError::BadPath,
            "{path}"
        );
    }
    assert_eq!(
        callback_urls(ok, "/s", "/f", &[("authKey".into(), "x".into())], "s").unwrap_err(),
        UrlError::ReservedParameter("authKey".into())
    );
}

#[test]
fn mobile_never_gets_the_iframe_window() {
    assert_eq!(
        choose_window_target(Some(WindowTarget::Iframe), true),
        Some(WindowTarget::SelfWindow)
    );
    assert_eq!(
        choose_window_target(None, true),
        Some(WindowTarget::SelfWindow)
    );
    assert_eq!(
        choose_window_target(Some(WindowTarget::Iframe), false),
        Some(WindowTarget::Iframe)
    );
    assert_eq!(choose_window_target(None, false), None);
    assert!(is_mobile_user_agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
    ));
    assert!(is_mobile_user_agent(
        "Mozilla/5.0 (Linux; Android 14; SM-S918N) Mobile"
    ));
    assert!(!is_mobile_user_agent(
        "Mozilla/5.0 (X11; Linux x86_64) Chrome/156"
    ));
}

// --- the request -------------------------------------------------------------------------------

fn params() -> CardBillingParams {
    CardBillingParams {
        success_url: "https://shop.example/billing/success?state=s".into(),
        fail_url: "https://shop.example/billing/fail".into(),
        ..Default::default()
    }
}

#[test]
fn the_wire_request_has_only_documented_keys_and_omits_absent_ones() {
    let minimal = CardBillingRequest::new(params()).unwrap();
    assert_eq!(
        serde_json::to_value(minimal.wire()).unwrap(),
        json!({"method": "CARD", "successUrl": "https://shop.example/billing/success?state=s", "failUrl": "https://shop.example/billing/fail"})
    );
    let full = CardBillingRequest::new(CardBillingParams {
        customer_name: Some(" 김토스 ".into()),
        customer_email: Some("a@b.kr".into()),
        window_target: Some(WindowTarget::SelfWindow),
        card_types: vec![CardOwnerType::Personal],
        flow: Flow::Direct {
            easy_pay: None,
            card_company: Some("61".into()),
        },
        ..params()
    })
    .unwrap();
    assert_eq!(
        serde_json::to_value(full.wire()).unwrap(),
        json!({
            "method": "CARD",
            "successUrl": "https://shop.example/billing/success?state=s",
            "failUrl": "https://shop.example/billing/fail",
            "customerName": "김토스",
            "customerEmail": "a@b.kr",
            "windowTarget": "self",
            "selectableCardTypes": ["PERSONAL"],
            "flowMode": "DIRECT",
            "cardCompany": "61"
        })
    );
}

#[test]
fn bad_requests_are_refused_before_they_reach_the_sdk() {
    let relative = CardBillingParams {
        success_url: "/billing/success".into(),
        ..params()
    };
    assert_eq!(
        CardBillingRequest::new(relative).unwrap_err(),
        RequestError::SuccessUrlNotAbsolute
    );
    let relative = CardBillingParams {
        fail_url: "shop.example/fail".into(),
        ..params()
    };
    assert_eq!(
        CardBillingRequest::new(relative).unwrap_err(),
        RequestError::FailUrlNotAbsolute
    );
    let long = CardBillingParams {
        customer_name: Some("가".repeat(101)),
        ..params()
    };
    assert_eq!(
        CardBillingRequest::new(long).unwrap_err(),
        RequestError::TooLong("customerName")
    );
    let exactly = CardBillingParams {
        customer_email: Some("a".repeat(100)),
        ..params()
    };
    assert!(CardBillingRequest::new(exactly).is_ok());
    let twice = CardBillingParams {
        card_types: vec![CardOwnerType::Personal, CardOwnerType::Personal],
        ..params()
    };
    assert_eq!(
        CardBillingRequest::new(twice).unwrap_err(),
        RequestError::BadCardTypes
    );
    let blank = CardBillingParams {
        customer_name: Some("   ".into()),
        ..params()
    };
    assert_eq!(
        serde_json::to_value(CardBillingRequest::new(blank).unwrap().wire())
            .unwrap()
            .get("customerName"),
        None
    );
}

// --- redirects and the hand-off -------------------------------------------------------------------

fn pending() -> PendingRegistration {
    PendingRegistration {
        customer_key: CustomerKey::parse("customer-0001").unwrap(),
        state: "s1".into(),
    }
}

#[test]
fn a_valid_success_redirect_is_sent_once_with_a_derived_idempotency_key() {
    let arrival = success_arrival(
        "?plan=pro&state=s1&customerKey=customer-0001&authKey=bln_abc",
        Some(&pending()),
        None,
    );
    let SuccessArrival::Send(record) = arrival else {
        panic!("{arrival:?}")
    };
    assert_eq!(record.auth_key.as_ref().unwrap().expose(), "bln_abc");
    assert_eq!(
        record.idempotency_key,
        format!("ak-{}", hex(&sha256(b"bln_abc")))
    );
    assert_eq!(record.idempotency_key.len(), 67);
    assert_eq!(record.status, HandoffStatus::Sending);
    assert!(
        !format!("{record:?}").contains("bln_abc"),
        "Debug never prints the authKey"
    );
}

#[test]
fn each_bad_success_redirect_has_its_own_reason() {
    let reject = |query: &str, pending: Option<&PendingRegistration>| match success_arrival(
        query, pending, None,
    ) {
        SuccessArrival::Reject(error) => error,
        other => panic!("{query}: {other:?}"),
    };
    let p = Some(&pending());
    assert_eq!(
        reject("?customerKey=customer-0001&state=s1", p),
        RedirectError::Missing("authKey")
    );
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=&state=s1", p),
        RedirectError::Missing("authKey")
    );
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=a&authKey=b&state=s1", p),
        RedirectError::Duplicated("authKey")
    );
    let long = format!(
        "?customerKey=customer-0001&authKey={}&state=s1",
        "a".repeat(301)
    );
    assert_eq!(reject(&long, p), RedirectError::AuthKeyTooLong);
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=a%20b&state=s1", p),
        RedirectError::AuthKeyMalformed
    );
    assert_eq!(
        reject("?customerKey=x&authKey=a&state=s1", p),
        RedirectError::CustomerKey(KeyError::CustomerKeyLength(1))
    );
    assert_eq!(
        reject("?customerKey=other-0001&authKey=a&state=s1", p),
        RedirectError::CustomerKeyMismatch
    );
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=a", p),
        RedirectError::Missing("state")
    );
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=a&state=s2", p),
        RedirectError::StateMismatch
    );
    assert_eq!(
        reject("?customerKey=customer-0001&authKey=a&state=s1", None),
        RedirectError::NotStartedHere
    );
    assert_eq!(
        reject("?customerKey=%zz", p),
        RedirectError::Query(QueryError::BadEscape)
    );
    assert_eq!(reject("", None), RedirectError::NotStartedHere);
}

#[test]
fn reloads_and_replays_show_the_stored_outcome_and_post_nothing() {
    let SuccessArrival::Send(mut record) = success_arrival(
        "?state=s1&customerKey=customer-0001&authKey=k",
        Some(&pending()),
        None,
    ) else {
        panic!()
    };
    let card = CardSummary {
        company: "현대".into(),
        number: "433012******123*".into(),
        card_type: None,
        owner_type: None,
    };
    record.settle(HandoffStatus::Registered { card });
    assert_eq!(record.auth_key, None, "a final outcome drops the authKey");
    // Reload (query scrubbed), replayed URL, and replay even with the pending registration still there.
    for (query, pending) in [
        ("", None),
        ("?state=s1&customerKey=customer-0001&authKey=k", None),
        (
            "?state=s1&customerKey=customer-0001&authKey=k",
            Some(pending()),
        ),
    ] {
        assert_eq!(
            success_arrival(query, pending.as_ref(), Some(record.clone())),
            SuccessArrival::Show(record.clone())
        );
    }
    // A second registration in the same tab (new state) is a new hand-off.
    let second = PendingRegistration {
        state: "s2".into(),
        ..pending()
    };
    assert!(matches!(
        success_arrival(
            "?state=s2&customerKey=customer-0001&authKey=k2",
            Some(&second),
            Some(record)
        ),
        SuccessArrival::Send(_)
    ));
}

#[test]
fn transient_failures_keep_the_key_and_final_ones_drop_it() {
    let mut record = match success_arrival(
        "?state=s1&customerKey=customer-0001&authKey=k",
        Some(&pending()),
        None,
    ) {
        SuccessArrival::Send(r) => r,
        other => panic!("{other:?}"),
    };
    record.settle(HandoffStatus::Unconfirmed {
        error: ErrorBody {
            code: "TIMEOUT".into(),
            message: String::new(),
        },
    });
    assert!(record.auth_key.is_some());
    record.settle(HandoffStatus::Refused {
        error: ErrorBody {
            code: "INVALID_CARD_NUMBER".into(),
            message: String::new(),
        },
    });
    assert!(record.auth_key.is_none());
}

#[test]
fn records_survive_a_round_trip_through_storage_json() {
    let SuccessArrival::Send(record) = success_arrival(
        "?state=s1&customerKey=customer-0001&authKey=k",
        Some(&pending()),
        None,
    ) else {
        panic!()
    };
    let text = serde_json::to_string(&record).unwrap();
    assert!(text.contains(r#""status":"sending""#), "{text}");
    assert_eq!(
        serde_json::from_str::<HandoffRecord>(&text).unwrap(),
        record
    );
    let bad = text.replace("customer-0001", "@@ANONYMOUS");
    assert!(
        serde_json::from_str::<HandoffRecord>(&bad).is_err(),
        "a tampered record is not trusted"
    );
}

#[test]
fn retries_are_bounded_backed_off_and_never_on_4xx() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.delay_before(2, AttemptFailure::Network), Some(400));
    assert_eq!(
        policy.delay_before(3, AttemptFailure::Status(503)),
        Some(800)
    );
    assert_eq!(
        policy.delay_before(4, AttemptFailure::Timeout),
        None,
        "three attempts in all"
    );
    assert_eq!(policy.delay_before(2, AttemptFailure::Status(400)), None);
    assert_eq!(policy.delay_before(2, AttemptFailure::Status(409)), None);
    assert_eq!(policy.delay_before(2, AttemptFailure::BadResponse), None);
    let long = RetryPolicy {
        max_attempts: 6,
        base_delay_ms: 1_000,
        max_delay_ms: 3_000,
    };
    assert_eq!(long.delay_before(6, AttemptFailure::Network), Some(3_000));
}

#[test]
fn fail_redirects_are_read_leniently_and_safely() {
    let fail = parse_fail(
        "?code=REJECT_CARD_COMPANY&message=%EC%B9%B4%EB%93%9C%EC%82%AC+%EA%B1%B0%EC%A0%88",
    );
    assert_eq!(fail.code, FailCode::RejectCardCompany);
    assert_eq!(fail.message.as_deref(), Some("카드사 거절"));
    assert_eq!(fail.order_id, None);
    assert_eq!(
        parse_fail("?code=PAY_PROCESS_CANCELED&orderId=order_1")
            .order_id
            .as_deref(),
        Some("order_1")
    );
    assert_eq!(
        parse_fail("?code=NEW_CODE_42").code,
        FailCode::Other("NEW_CODE_42".into())
    );
    assert_eq!(parse_fail("?code=%3Cscript%3E").code, FailCode::Unreadable);
    assert_eq!(parse_fail("?code=A&code=B").code, FailCode::Unreadable);
    assert_eq!(parse_fail("?message=%zz").code, FailCode::Unreadable);
    let long = parse_fail(&format!("?code=X&message={}%0A%00", "a".repeat(500)));
    assert_eq!(
        long.message.unwrap().chars().count(),
        MAX_FAIL_MESSAGE_CHARS
    );
}

// --- SDK errors and copy ----------------------------------------------------------------------

#[test]
fn sdk_errors_branch_on_code_then_class_name_then_give_up_politely() {
    assert!(
        matches!(SdkError::from_parts(Some("USER_CANCEL"), None, Some("닫힘")), SdkError::UserCancel { message } if message == "닫힘")
    );
    assert!(matches!(
        SdkError::from_parts(None, Some("UserCancelError"), None),
        SdkError::UserCancel { .. }
    ));
    assert!(matches!(
        SdkError::from_parts(None, Some("PaymentRequestAbortedError"), None),
        SdkError::PaymentRequestAborted { .. }
    ));
    assert_eq!(
        SdkError::from_parts(Some("BRAND_NEW"), None, Some("m")),
        SdkError::Other {
            code: "BRAND_NEW".into(),
            message: "m".into()
        }
    );
    assert_eq!(
        SdkError::from_parts(None, Some("TypeError"), Some("x is undefined")),
        SdkError::Unexpected {
            description: "TypeError: x is undefined".into()
        }
    );
    assert_eq!(
        SdkError::from_parts(None, None, None),
        SdkError::Unexpected {
            description: "an error without a code".into()
        }
    );
    for code in [
        "USER_CANCEL",
        "PAYMENT_REQUEST_ABORTED",
        "NOT_SUPPORTED_METHOD",
        "INCORRECT_SUCCESS_URL_FORMAT",
        "INCORRECT_FAIL_URL_FORMAT",
        "INVALID_METHOD_TRANSACTION",
        "INVALID_PARAMETERS",
        "INVALID_CLIENT_KEY",
        "INVALID_CUSTOMER_KEY",
        "INSECURE_KEY_USAGE",
        "NOT_SUPPORTED_WIDGET_KEY",
        "UNKNOWN",
    ] {
        let error = SdkError::from_parts(Some(code), None, None);
        assert_eq!(error.code(), Some(code));
        assert!(
            !matches!(error, SdkError::Other { .. }),
            "{code} has its own variant"
        );
    }
}

#[test]
fn each_error_gets_the_right_words() {
    assert_eq!(
        sdk_error_text(&SdkError::from_parts(Some("USER_CANCEL"), None, None)),
        Text::Cancelled
    );
    assert_eq!(
        sdk_error_text(&SdkError::from_parts(
            Some("NOT_SUPPORTED_METHOD"),
            None,
            None
        )),
        Text::NoBillingContract
    );
    assert_eq!(
        sdk_error_text(&SdkError::from_parts(
            Some("INVALID_PARAMETERS"),
            None,
            None
        )),
        Text::IntegrationError
    );
    assert_eq!(
        sdk_error_text(&SdkError::LoadTimedOut { timeout_ms: 1 }),
        Text::LoadFailed
    );
    assert_eq!(
        sdk_error_text(&SdkError::from_parts(Some("UNKNOWN"), None, None)),
        Text::WindowFailed
    );
    assert_eq!(
        backend_error_text("CUSTOMER_KEY_MISMATCH"),
        Text::BackendCustomerMismatch
    );
    assert_eq!(
        backend_error_text("TOSS_UNAVAILABLE"),
        Text::BackendUnavailable
    );
    assert_eq!(backend_error_text("WHATEVER"), Text::BackendGeneric);
    assert_eq!(
        fail_code_text(&FailCode::PayProcessCanceled).0,
        Text::FailCancelledTitle
    );
    assert_ne!(
        Text::FailTitle.get(Locale::Ko),
        Text::FailTitle.get(Locale::En)
    );
}

#[test]
fn sha256_matches_the_standard_vectors() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        hex(&sha256(&[b'a'; 1000])),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
}

// --- configuration ----------------------------------------------------------------------------

fn raw(value: serde_json::Value) -> Result<Config, ConfigError> {
    serde_json::from_value::<RawConfig>(value)
        .map_err(|e| ConfigError::Unreadable(e.to_string()))?
        .validate()
}

#[test]
fn a_minimal_configuration_gets_safe_defaults() {
    let config = raw(json!({"clientKey": "test_ck_D5GePWvyJnrK0W0k6q8gLzN97Eoq", "customerKey": "customer-0001"})).unwrap();
    assert_eq!(
        config.customer,
        CustomerSource::Fixed(CustomerKey::parse("customer-0001").unwrap())
    );
    assert_eq!(config.sdk_url, "https://js.tosspayments.com/v2/standard");
    assert_eq!(config.backend_url, "/api/billing/issue");
    assert_eq!(config.locale, Locale::Ko);
    assert_eq!(config.page_for("/billing/success"), Page::Success);
    assert_eq!(config.page_for("/billing/success/"), Page::Success);
    assert_eq!(config.page_for("/billing/fail"), Page::Fail);
    assert_eq!(config.page_for("/subscribe"), Page::Register);
}

#[test]
fn each_bad_field_is_named_and_no_secret_is_repeated() {
    let base = || json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001"});
    let field_of = |patch: serde_json::Value| -> String {
        let mut value = base();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                value.as_object_mut().unwrap().remove(k);
            } else {
                value[k] = v.clone();
            }
        }
        let error = raw(value).unwrap_err();
        let text = error.to_string();
        assert!(!text.contains("zXLkKEyp"), "{text}");
        match error {
            ConfigError::Invalid { field, .. } => field.to_owned(),
            ConfigError::Missing(field) => field.to_owned(),
            ConfigError::Unreadable(text) => text,
            ConfigError::NotInBundle(text) => panic!("validation never says {text}"),
        }
    };
    assert_eq!(field_of(json!({"clientKey": SECRET})), "clientKey");
    assert_eq!(field_of(json!({"clientKey": null})), "clientKey");
    assert_eq!(field_of(json!({"clientKey": "test_gck_abc"})), "clientKey");
    assert_eq!(
        field_of(json!({"customerKey": "@@ANONYMOUS"})),
        "customerKey"
    );
    assert_eq!(field_of(json!({"customerKey": null})), "customerKey");
    assert_eq!(
        field_of(json!({"customerKeyUrl": "/api/customer"})),
        "customerKey"
    );
    assert_eq!(
        field_of(json!({"backendHeaders": {"X-Token": SECRET}})),
        "backendHeaders"
    );
    assert_eq!(
        field_of(json!({"backendHeaders": {"Idempotency-Key": "x"}})),
        "backendHeaders"
    );
    assert_eq!(
        field_of(json!({"backendUrl": "javascript:alert(1)"})),
        "backendUrl"
    );
    assert_eq!(
        field_of(json!({"successPath": "//evil.example"})),
        "successPath"
    );
    assert_eq!(
        field_of(json!({"successPath": "/billing/fail"})),
        "successPath"
    );
    assert_eq!(field_of(json!({"failPath": "/f?code=1"})), "failPath");
    assert_eq!(
        field_of(json!({"callbackQuery": {"state": "x"}})),
        "callbackQuery"
    );
    assert_eq!(field_of(json!({"locale": "jp"})), "locale");
    assert_eq!(field_of(json!({"credentials": "always"})), "credentials");
    assert_eq!(
        field_of(json!({"customerName": "가".repeat(101)})),
        "customerName"
    );
    assert_eq!(field_of(json!({"sdkTimeoutMs": 10})), "sdkTimeoutMs");
    assert_eq!(
        field_of(json!({"backendMaxAttempts": 0})),
        "backendMaxAttempts"
    );
    assert_eq!(
        field_of(json!({"selectableCardTypes": ["PERSONAL", "PERSONAL"]})),
        "selectableCardTypes"
    );
    assert!(
        field_of(json!({"clientkey": "typo"})).contains("clientkey"),
        "unknown fields are named"
    );
    assert!(field_of(json!({"windowTarget": "popup"})).contains("popup"));
}

#[test]
fn the_js_reader_knows_exactly_the_serde_field_names() {
    // serde lists its field names when it meets an unknown one; the hand-written JS reader
    // (src/js_data.rs) must accept exactly those.
    let error = serde_json::from_value::<RawConfig>(json!({"__unknown": 1}))
        .unwrap_err()
        .to_string();
    let mut serde_names: Vec<&str> = error.split('`').skip(3).step_by(2).collect();
    let mut ours = RawConfig::FIELDS.to_vec();
    serde_names.sort_unstable();
    ours.sort_unstable();
    assert_eq!(serde_names, ours, "{error}");
}

#[test]
fn the_hand_written_wire_names_are_serdes() {
    // js_data writes these names by hand; serde's derive is the definition of the shape.
    for t in [CardOwnerType::Personal, CardOwnerType::Corporate] {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
    }
    for e in [EasyPay::Tosspay, EasyPay::Naverpay] {
        assert_eq!(serde_json::to_value(e).unwrap(), json!(e.as_str()));
    }
    for w in [WindowTarget::Iframe, WindowTarget::SelfWindow] {
        assert_eq!(serde_json::to_value(w).unwrap(), json!(w.as_str()));
    }
}

#[test]
fn name_value_settings_keep_the_pages_order_and_the_last_of_a_repeated_name() {
    // What the browser's JSON.parse + Object.keys give the wasm reader, serde gives natively.
    let raw: RawConfig = serde_json::from_str(
        r#"{"clientKey": "test_ck_abc", "customerKey": "customer-0001",
            "callbackQuery": {"plan": "pro", "coupon": "A", "plan": "max"},
            "backendHeaders": {"X-Shop": "1", "X-CSRF-Token": "t"}}"#,
    )
    .unwrap();
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let config = raw.validate().unwrap();
    assert_eq!(
        config.callback_query,
        pairs(&[("plan", "max"), ("coupon", "A")])
    );
    assert_eq!(
        config.backend_headers,
        pairs(&[("X-Shop", "1"), ("X-CSRF-Token", "t")])
    );
    assert!(serde_json::from_str::<RawConfig>(r#"{"backendHeaders": {"X": 1}}"#).is_err());
    assert!(serde_json::from_str::<RawConfig>(r#"{"callbackQuery": ["plan"]}"#).is_err());
    let none: RawConfig = serde_json::from_str(r#"{"callbackQuery": null}"#).unwrap();
    assert_eq!(none.callback_query, None);
}
