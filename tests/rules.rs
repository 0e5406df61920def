//! Native tests of the pure checkout rules (no browser): keys, URLs, requests, redirects, the
//! hand-off decision, retries, configuration, the plan summary's words, error classification and
//! copy; and two checks across files: `src/checkout` imports nothing above it, and the loader's
//! page rule (scripts/boot.js, run with node) is the contract's.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use serde_json::json;
use toss_billing_checkout::checkout::config::{
    Config, ConfigError, CustomerSource, Page, RawConfig,
};
use toss_billing_checkout::checkout::copy::{
    backend_error_text, fail_code_text, merchant_message, sdk_error_text, Locale, Text,
    MAX_MERCHANT_MESSAGE_CHARS,
};
use toss_billing_checkout::checkout::handoff::*;
use toss_billing_checkout::checkout::keys::*;
use toss_billing_checkout::checkout::plan::*;
use toss_billing_checkout::checkout::query::*;
use toss_billing_checkout::checkout::redirect::*;
use toss_billing_checkout::checkout::request::*;
use toss_billing_checkout::checkout::sdk_error::SdkError;
use toss_billing_checkout::checkout::sha256::sha256;
use toss_billing_checkout::checkout::urls::*;

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
    fn percent_escaped_bytes_decode_exactly_when_std_takes_them_as_utf8(
        bytes in proptest::collection::vec(prop_oneof![any::<u8>(), 0x80u8..0xC0, 0xE0u8..0xF5], 0..12)
    ) {
        let escaped: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let decoded = parse_query(&format!("v={escaped}")).map(|pairs| pairs[0].1.clone());
        prop_assert_eq!(decoded, String::from_utf8(bytes).map_err(|_| QueryError::NotUtf8));
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
fn an_absolute_http_url_has_a_scheme_an_authority_and_no_whitespace() {
    for url in [
        "https://a",
        "http://shop.example/p?q=1#x",
        "https://127.0.0.1:8080",
    ] {
        assert!(is_absolute_http_url(url), "{url}");
    }
    for url in [
        "https://",
        "https:///p",
        "https://?q",
        "https://#x",
        "ftp://a",
        "/p",
        "https://a b",
        "https://a\n",
        "https://a\u{3000}",
    ] {
        assert!(!is_absolute_http_url(url), "{url:?}");
    }
}

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
    // Two hex digits and nothing else: a sign is no digit (u8::from_str_radix took "+a" as 10).
    assert_eq!(parse_query("a=%+a"), Err(QueryError::BadEscape));
    assert_eq!(parse_query("a=%-1"), Err(QueryError::BadEscape));
    assert_eq!(parse_query("a=%ff"), Err(QueryError::NotUtf8));
    // UTF-8's edges: the longest forms, and what is no UTF-8 although it looks like it.
    assert_eq!(
        parse_query("a=%F0%9F%98%80%F4%8F%BF%BF").unwrap()[0].1,
        "😀\u{10FFFF}"
    );
    for not_utf8 in [
        "%C0%80",
        "%E0%80%80",
        "%ED%A0%80",
        "%F4%90%80%80",
        "%E2%82",
        "%80",
        "%F8%88%80%80%80",
    ] {
        assert_eq!(
            parse_query(&format!("a={not_utf8}")),
            Err(QueryError::NotUtf8),
            "{not_utf8}"
        );
    }
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
fn a_valid_configuration_makes_the_request_new_would_accept() {
    // The registration page builds its request with `for_config`, which checks nothing again:
    // for every configuration `validate` accepts, it must equal what `new` makes of the same.
    let configs = [
        json!({}),
        json!({"customerName": " 김토스 ", "customerEmail": "a@b.kr", "windowTarget": "iframe",
               "selectableCardTypes": ["CORPORATE", "PERSONAL"]}),
        json!({"customerName": "가".repeat(100), "customerEmail": "  ", "windowTarget": "self",
               "selectableCardTypes": ["PERSONAL"], "callbackQuery": {"plan": "프로 플랜"},
               "successPath": "/done?from=shop", "failPath": "/oops"}),
    ];
    for patch in configs {
        let mut value = json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001"});
        for (k, v) in patch.as_object().unwrap() {
            value[k] = v.clone();
        }
        let config = raw(value).unwrap();
        for mobile in [false, true] {
            let urls = || {
                callback_urls(
                    "https://shop.example",
                    &config.success_path,
                    &config.fail_path,
                    &config.callback_query,
                    "s1",
                )
                .unwrap()
            };
            let checked = CardBillingRequest::new(CardBillingParams {
                success_url: urls().success_url,
                fail_url: urls().fail_url,
                customer_name: config.customer_name.clone(),
                customer_email: config.customer_email.clone(),
                window_target: choose_window_target(config.window_target, mobile),
                card_types: config.card_types.clone(),
                flow: Flow::Default,
            })
            .unwrap();
            assert_eq!(
                CardBillingRequest::for_config(&config, urls(), mobile),
                checked
            );
        }
    }
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
        checkout_session: Some("cs1.terms.signature".into()),
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
    assert_eq!(
        record.checkout_session.as_deref(),
        Some("cs1.terms.signature"),
        "the checkout session the registration started with goes with its hand-off"
    );
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
    // A success redirect that also carries the fail page's parameters is neither shape.
    for extra in [
        "&code=PAY_PROCESS_CANCELED",
        "&message=x",
        "&code=A&message=b",
    ] {
        let query = format!("?customerKey=customer-0001&authKey=a&state=s1{extra}");
        assert_eq!(reject(&query, p), RedirectError::BothShapes, "{query}");
    }
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
        company: Some("현대".into()),
        number: Some("433012******123*".into()),
        ..CardSummary::default()
    };
    record.settle(HandoffStatus::Registered {
        card,
        subscription: None,
    });
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
    for still_confirming in [false, true] {
        record.settle(HandoffStatus::Unconfirmed {
            error: error("TIMEOUT"),
            still_confirming,
        });
        assert!(record.auth_key.is_some());
    }
    record.settle(HandoffStatus::Refused {
        error: error("INVALID_CARD_NUMBER"),
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

    // "Still being confirmed" survives a reload; the flag is written only when set (as js_data
    // writes it), and a record written before the flag existed reads as "could not confirm".
    for still_confirming in [false, true] {
        let unsure = HandoffRecord {
            status: HandoffStatus::Unconfirmed {
                error: ErrorBody {
                    retry_after_ms: Some(1_000),
                    ..error(HANDOFF_PENDING)
                },
                still_confirming,
            },
            ..record.clone()
        };
        let text = serde_json::to_string(&unsure).unwrap();
        assert_eq!(text.contains("stillConfirming"), still_confirming, "{text}");
        assert!(text.contains(r#""retryAfterMs":1000"#), "{text}");
        assert_eq!(
            serde_json::from_str::<HandoffRecord>(&text).unwrap(),
            unsure
        );
    }
}

fn error(code: &str) -> ErrorBody {
    ErrorBody {
        code: code.into(),
        message: String::new(),
        retry_after_ms: None,
    }
}

fn pending_answer(retry_after_ms: Option<u32>) -> Answer {
    Answer::Pending(ErrorBody {
        retry_after_ms,
        ..error(HANDOFF_PENDING)
    })
}

fn card() -> CardSummary {
    CardSummary {
        company: Some("현대".into()),
        number: Some("433012******123*".into()),
        ..CardSummary::default()
    }
}

#[test]
fn one_answer_rule_and_only_a_documented_4xx_forgets_the_key() {
    let answer = Answer::of_response;
    let bad_response = Answer::failed(AttemptFailure::BadResponse);
    // Registered: a 200 with a readable {card}, whatever display fields it has.
    assert_eq!(
        answer(200, Some(card()), None),
        Answer::Registered(card(), None)
    );
    assert_eq!(
        answer(200, Some(CardSummary::default()), None),
        Answer::Registered(CardSummary::default(), None),
        "200 {{\"card\": {{}}}} is a registered card without details"
    );
    let odd = CardSummary {
        number: Some("  ".into()),
        card_type: Some("x".repeat(41)),
        ..card()
    };
    assert_eq!(
        answer(200, Some(odd), None),
        Answer::Registered(
            CardSummary {
                number: None,
                ..card()
            },
            None
        ),
        "implausible display fields are dropped, the card is not"
    );
    // A 2xx the page cannot read is no answer, never a refusal.
    for (status, card, error_body) in [
        (200, None, None),
        (200, None, Some(error("INVALID_CARD_NUMBER"))),
        (200, None, Some(error(HANDOFF_PENDING))),
        (201, Some(card()), None),
        (202, None, None),
        (202, None, Some(error("SOMETHING_ELSE"))),
        (204, None, None),
    ] {
        assert_eq!(answer(status, card, error_body), bad_response, "{status}");
    }
    // 202 HANDOFF_PENDING: ask again.
    assert_eq!(
        answer(
            202,
            None,
            Some(ErrorBody {
                retry_after_ms: Some(1_500),
                ..error(HANDOFF_PENDING)
            })
        ),
        pending_answer(Some(1_500))
    );
    // Final: a 4xx (not 408/409/425/429) with the documented {code, message}.
    for (status, code) in [
        (400, "INVALID_REQUEST"),
        (400, "INVALID_CARD_NUMBER"),
        (403, "CUSTOMER_KEY_MISMATCH"),
        (410, "HANDOFF_EXPIRED"),
    ] {
        assert_eq!(
            answer(status, None, Some(error(code))),
            Answer::Refused(error(code))
        );
    }
    // Not final, whatever the body says: busy, rate-limited, restarting, a proxy's page.
    for status in [408, 409, 425, 429, 500, 502, 503, 504] {
        let code = "IDEMPOTENT_REQUEST_PROCESSING";
        assert_eq!(
            answer(status, None, Some(error(code))),
            Answer::Failed {
                failure: AttemptFailure::Status(status),
                error: Some(error(code))
            },
            "{status}"
        );
    }
    for (status, error_body) in [
        (502, None),
        (403, None),
        (404, None),
        (400, Some(error("<html>"))),
        (400, Some(error(""))),
    ] {
        assert_eq!(
            answer(status, None, error_body),
            Answer::failed(AttemptFailure::Status(status)),
            "{status}: no documented body, no final answer"
        );
    }
    assert_eq!(
        AttemptFailure::Status(502).error_body().code,
        "HTTP_502",
        "stored when the backend sent no code"
    );
}

proptest! {
    #[test]
    fn the_page_reads_answers_by_the_contracts_one_rule(
        status in 100u16..600,
        has_card in any::<bool>(),
        code in prop::option::of(prop::sample::select(vec![
            "INVALID_CARD_NUMBER", HANDOFF_PENDING, "<html>", "", "TOSS_UNAVAILABLE",
        ])),
    ) {
        let card = has_card.then(card);
        let kind = classify_answer(status, card.is_some(), code);
        let read = Answer::of_response(status, card, code.map(error));
        prop_assert_eq!(matches!(read, Answer::Registered(..)), kind == AnswerKind::Registered);
        prop_assert_eq!(matches!(read, Answer::Refused(_)), kind == AnswerKind::Refused);
        if matches!(read, Answer::Pending(_)) {
            prop_assert_eq!((status, code), (202, Some(HANDOFF_PENDING)));
        }
    }
}

#[test]
fn failed_attempts_are_bounded_and_backed_off() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.max_attempts, 3);
    assert_eq!(policy.delay_before(1), None);
    assert_eq!(policy.delay_before(2), Some(400));
    assert_eq!(policy.delay_before(3), Some(800));
    assert_eq!(policy.delay_before(4), None, "three failed attempts in all");
    let long = RetryPolicy {
        max_attempts: 6,
        base_delay_ms: 1_000,
        max_delay_ms: 3_000,
    };
    assert_eq!(long.delay_before(6), Some(3_000));
}

#[test]
fn pending_waits_follow_retry_after_within_bounds() {
    assert_eq!(pending_wait(None), 1_000, "the default");
    assert_eq!(pending_wait(Some(1_500)), 1_500);
    assert_eq!(pending_wait(Some(0)), 250);
    assert_eq!(pending_wait(Some(60_000)), 3_000);
}

#[test]
fn the_default_budget_is_twenty_seconds_and_cuts_the_attempt_timeouts() {
    assert_eq!(DEFAULT_CONFIRM_TIMEOUT_MS, 20_000);
    let budget = ConfirmBudget::starting_at(1_000, DEFAULT_CONFIRM_TIMEOUT_MS);
    assert_eq!(budget.deadline_ms(), 21_000);
    assert_eq!(budget.attempt_timeout(1_000, 10_000), Some(10_000));
    assert_eq!(budget.attempt_timeout(16_000, 10_000), Some(5_000));
    assert_eq!(budget.attempt_timeout(20_500, 10_000), Some(500));
    assert_eq!(
        budget.attempt_timeout(20_501, 10_000),
        None,
        "too little left"
    );
    assert_eq!(budget.attempt_timeout(99_000, 10_000), None);
    assert_eq!(budget.remaining(99_000), 0);
    assert!(budget.can_wait(19_000, 1_000));
    assert!(!budget.can_wait(19_000, 1_501));
}

/// What a confirmation did against a scripted backend on a simulated clock.
#[derive(Debug)]
struct Played {
    status: HandoffStatus,
    /// When it settled, from its start.
    elapsed_ms: u64,
    /// Each attempt's timeout.
    timeouts: Vec<u32>,
    /// Each wait before asking again, and whether it was for a pending answer.
    waits: Vec<(u32, bool)>,
}

/// Plays one confirmation: `backend(n)` says how long the n-th attempt's answer takes and what it
/// is (`None`: it never comes). An answer later than the attempt's timeout is a timeout, as the
/// abort makes it in the page.
fn play(
    policy: RetryPolicy,
    per_attempt_ms: u32,
    total_ms: u32,
    mut backend: impl FnMut(usize) -> (u32, Option<Answer>),
) -> Played {
    let start = 7_000;
    let mut now = start;
    let mut confirmation = Confirmation::start(policy, per_attempt_ms, total_ms, now);
    let (mut timeouts, mut waits) = (vec![], vec![]);
    loop {
        assert!(timeouts.len() < 1_000, "a confirmation ends");
        let timeout = match confirmation.attempt_timeout(now) {
            Ok(timeout) => timeout,
            Err(status) => {
                return Played {
                    status: *status,
                    elapsed_ms: now - start,
                    timeouts,
                    waits,
                }
            }
        };
        let (latency, answer) = backend(timeouts.len());
        timeouts.push(timeout);
        let answer = match answer {
            Some(answer) if latency <= timeout => {
                now += u64::from(latency);
                answer
            }
            _ => {
                now += u64::from(timeout);
                Answer::failed(AttemptFailure::Timeout)
            }
        };
        match confirmation.after(answer, now) {
            Next::AskAgain { delay_ms, pending } => {
                waits.push((delay_ms, pending));
                now += u64::from(delay_ms);
            }
            Next::Settle(status) => {
                return Played {
                    status,
                    elapsed_ms: now - start,
                    timeouts,
                    waits,
                }
            }
        }
    }
}

fn still_confirming(code: &str) -> HandoffStatus {
    HandoffStatus::Unconfirmed {
        error: error(code),
        still_confirming: true,
    }
}

#[test]
fn a_backend_that_never_answers_holds_the_customer_twenty_seconds_at_most() {
    let played = play(
        RetryPolicy::default(),
        10_000,
        DEFAULT_CONFIRM_TIMEOUT_MS,
        |_| (u32::MAX, None),
    );
    assert_eq!(played.timeouts, vec![10_000, 9_600], "the second cut short");
    assert_eq!(played.waits, vec![(400, false)]);
    assert_eq!(played.elapsed_ms, 20_000);
    assert_eq!(played.status, still_confirming("TIMEOUT"));
}

#[test]
fn pending_answers_wait_as_asked_and_do_not_use_up_the_attempts() {
    let one_failure_allowed = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let played = play(one_failure_allowed, 10_000, 20_000, |n| match n {
        0 => (5, Some(pending_answer(Some(100)))),
        1 => (5, Some(pending_answer(None))),
        2 => (5, Some(pending_answer(Some(60_000)))),
        _ => (5, Some(Answer::Registered(card(), None))),
    });
    assert_eq!(
        played.waits,
        vec![(250, true), (1_000, true), (3_000, true)]
    );
    assert_eq!(
        played.status,
        HandoffStatus::Registered {
            card: card(),
            subscription: None
        }
    );

    // The reference server holds a request 5 s, then answers 202: four attempts fit in 20 s, the
    // last one cut to the time left; then the page says the card is still being confirmed.
    let played = play(RetryPolicy::default(), 10_000, 20_000, |_| {
        (5_000, Some(pending_answer(Some(1_000))))
    });
    assert_eq!(played.timeouts, vec![10_000, 10_000, 8_000, 2_000]);
    assert_eq!(played.elapsed_ms, 20_000);
    assert_eq!(played.status, still_confirming("TIMEOUT"));

    // Pending to the end: the wait that no longer fits is not started.
    let played = play(RetryPolicy::default(), 10_000, 5_000, |_| {
        (10, Some(pending_answer(Some(3_000))))
    });
    assert_eq!(played.waits, vec![(3_000, true)]);
    assert!(played.elapsed_ms < 5_000, "{played:?}");
    assert_eq!(
        played.status,
        HandoffStatus::Unconfirmed {
            error: ErrorBody {
                retry_after_ms: Some(3_000),
                ..error(HANDOFF_PENDING)
            },
            still_confirming: true,
        }
    );
}

#[test]
fn failed_attempts_run_out_as_could_not_confirm_and_final_answers_end_at_once() {
    let unavailable = || {
        Some(Answer::Failed {
            failure: AttemptFailure::Status(503),
            error: Some(error("TOSS_UNAVAILABLE")),
        })
    };
    let played = play(RetryPolicy::default(), 10_000, 20_000, |_| {
        (20, unavailable())
    });
    assert_eq!(played.timeouts.len(), 3, "backendMaxAttempts");
    assert_eq!(played.waits, vec![(400, false), (800, false)]);
    assert_eq!(
        played.status,
        HandoffStatus::Unconfirmed {
            error: error("TOSS_UNAVAILABLE"),
            still_confirming: false,
        }
    );

    let played = play(RetryPolicy::default(), 10_000, 20_000, |n| match n {
        0 => (20, Some(Answer::failed(AttemptFailure::Network))),
        1 => (20, Some(Answer::failed(AttemptFailure::BadResponse))),
        _ => (20, Some(Answer::Registered(CardSummary::default(), None))),
    });
    assert_eq!(
        played.status,
        HandoffStatus::Registered {
            card: CardSummary::default(),
            subscription: None,
        },
        "failures, then the card"
    );

    let played = play(RetryPolicy::default(), 10_000, 20_000, |_| {
        (20, Some(Answer::Refused(error("INVALID_CARD_NUMBER"))))
    });
    assert_eq!(played.timeouts.len(), 1, "a final no is not asked again");
    assert_eq!(
        played.status,
        HandoffStatus::Refused {
            error: error("INVALID_CARD_NUMBER")
        }
    );
}

fn scripted_answer() -> impl Strategy<Value = (u32, Option<Answer>)> {
    let answer = prop_oneof![
        Just(None),
        Just(Some(Answer::Registered(CardSummary::default(), None))),
        Just(Some(Answer::Refused(error("INVALID_CARD_NUMBER")))),
        (0u32..5_000).prop_map(|ms| Some(pending_answer(Some(ms)))),
        Just(Some(pending_answer(None))),
        Just(Some(Answer::failed(AttemptFailure::Status(503)))),
        Just(Some(Answer::failed(AttemptFailure::Network))),
        Just(Some(Answer::failed(AttemptFailure::BadResponse))),
    ];
    (0u32..15_000, answer)
}

proptest! {
    #[test]
    fn no_backend_keeps_the_customer_waiting_past_the_budget(
        script in prop::collection::vec(scripted_answer(), 1..40),
        per_attempt_ms in 500u32..=30_000,
        total_ms in 5_000u32..=20_000,
        max_attempts in 1u32..=6,
    ) {
        let policy = RetryPolicy { max_attempts, ..RetryPolicy::default() };
        let played = play(policy, per_attempt_ms, total_ms, |n| script[n % script.len()].clone());
        prop_assert!(played.elapsed_ms <= u64::from(total_ms), "{:?}", played);
        prop_assert!(played.timeouts.iter().all(|&t| t <= per_attempt_ms && t >= MIN_ATTEMPT_MS));
        let failed_waits = played.waits.iter().filter(|(_, pending)| !pending).count();
        prop_assert!(failed_waits < max_attempts as usize, "{:?}", played);
        // Only a final answer forgets the key.
        match &played.status {
            HandoffStatus::Registered { .. } | HandoffStatus::Refused { .. } => {}
            HandoffStatus::Unconfirmed { .. } => {}
            HandoffStatus::Sending => prop_assert!(false, "never settles as sending"),
        }
    }
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
    // A code of at most 64 characters and a message of at most 500 are kept, counted in
    // characters, not bytes.
    assert_eq!(
        SdkError::from_parts(Some(&"코".repeat(70)), None, Some(&"드".repeat(600))),
        SdkError::Other {
            code: "코".repeat(64),
            message: "드".repeat(500)
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
    assert_eq!(config.backend_timeout_ms, 10_000);
    assert_eq!(config.retry, RetryPolicy::default());
    assert_eq!(
        config.confirm_timeout_ms, 20_000,
        "the customer waits 20 s at most by default"
    );
}

proptest! {
    /// A backend header's name is an HTTP token (RFC 9110 §5.6.2: letters, digits and
    /// `!#$%&'*+-.^_`|~`), whatever else it contains.
    #[test]
    fn a_backend_header_name_is_accepted_exactly_when_it_is_an_http_token(name in "[ -~]{1,12}") {
        let token = name.bytes().all(|b| b.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(char::from(b)));
        let config = json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001", "backendHeaders": {name.clone(): "1"}});
        prop_assert_eq!(raw(config).is_ok(), token, "{:?}", name);
    }
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
    for bad in [4_999, 20_001, 0] {
        assert_eq!(
            field_of(json!({ "confirmTimeoutMs": bad })),
            "confirmTimeoutMs",
            "the customer never waits more than 20 s, nor is given less than 5 s"
        );
    }
    assert!(raw(json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001", "confirmTimeoutMs": 5_000})).is_ok());
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

// --- the plan summary ------------------------------------------------------------------------

/// The reference for the hand-written digits: core::fmt, plus separators.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn amounts_are_won_with_separators() {
    assert_eq!(amount_text(9_900, Locale::Ko), "9,900원");
    assert_eq!(amount_text(9_900, Locale::En), "₩9,900");
    assert_eq!(amount_text(1, Locale::Ko), "1원");
    assert_eq!(amount_text(100, Locale::En), "₩100");
    assert_eq!(amount_text(1_000, Locale::Ko), "1,000원");
    assert_eq!(amount_text(1_234_567, Locale::En), "₩1,234,567");
    assert_eq!(
        amount_text(u64::MAX, Locale::Ko),
        "18,446,744,073,709,551,615원"
    );
    let mut plain = String::new();
    push_number(&mut plain, 1_000_000, false);
    assert_eq!(plain, "1000000");
}

proptest! {
    #[test]
    fn every_amount_is_written_as_core_fmt_would_with_separators(n in any::<u64>()) {
        prop_assert_eq!(amount_text(n, Locale::Ko), format!("{}원", grouped(n)));
        let mut plain = String::new();
        push_number(&mut plain, n, false);
        prop_assert_eq!(plain, n.to_string());
    }

    #[test]
    fn every_real_date_is_read_and_written(year in 1u32..=9999, month in 1u32..=12, day in 1u32..=31) {
        let text = format!("{year:04}-{month:02}-{day:02}");
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
        prop_assert_eq!(date_parts(&text).is_some(), day <= days, "{}", text);
        if day <= days {
            prop_assert_eq!(first_charge_text(Some(&text), Locale::Ko), format!("{year}년 {month}월 {day}일"));
        }
    }
}

#[test]
fn cycles_and_first_charges_in_both_languages() {
    assert_eq!(cycle_text(PlanCycle::Monthly, Locale::Ko), "매월");
    assert_eq!(cycle_text(PlanCycle::Monthly, Locale::En), "monthly");
    assert_eq!(cycle_text(PlanCycle::Yearly, Locale::Ko), "매년");
    assert_eq!(cycle_text(PlanCycle::Yearly, Locale::En), "yearly");
    assert_eq!(cycle_text(PlanCycle::EveryDays(14), Locale::Ko), "14일마다");
    assert_eq!(
        cycle_text(PlanCycle::EveryDays(14), Locale::En),
        "every 14 days"
    );
    assert_eq!(
        cycle_text(PlanCycle::EveryDays(1_000), Locale::En),
        "every 1,000 days"
    );
    assert_eq!(cycle_text(PlanCycle::EveryDays(1), Locale::En), "every day");
    assert_eq!(
        first_charge_text(Some("2026-12-01"), Locale::Ko),
        "2026년 12월 1일"
    );
    assert_eq!(
        first_charge_text(Some("2026-12-01"), Locale::En),
        "1 December 2026"
    );
    assert_eq!(
        first_charge_text(Some("2027-01-31"), Locale::En),
        "31 January 2027"
    );
    // No date: billing-server charges the first period when the card is registered.
    assert_eq!(first_charge_text(None, Locale::Ko), "카드 등록 즉시");
    assert_eq!(first_charge_text(None, Locale::En), "when you register");
    for bad in [
        "2026-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-04-31",
        "2026-1-01",
        "2026-12-1",
        "2026/12/01",
        "2026-12-01T00:00",
        "0000-01-01",
        "２０２６-12-01",
        "",
    ] {
        assert_eq!(date_parts(bad), None, "{bad}");
    }
    assert_eq!(date_parts("2024-02-29"), Some((2024, 2, 29)));
    assert_eq!(date_parts("2000-02-29"), Some((2000, 2, 29)));
    assert_eq!(date_parts("1900-02-29"), None);
    let plan = PlanSummary {
        name: "Pro <b>\"&\"</b>".into(),
        amount: 9_900,
        cycle: PlanCycle::Monthly,
        first_charge_date: None,
        cancel_note: None,
    };
    assert_eq!(
        plan_rows_html(&plan, Locale::Ko),
        "<dt>플랜</dt><dd class=\"tbc-plan-name\">Pro &lt;b&gt;&quot;&amp;&quot;&lt;/b&gt;</dd>\
         <dt>요금</dt><dd class=\"tbc-plan-amount\">9,900원</dd>\
         <dt>결제 주기</dt><dd class=\"tbc-plan-cycle\">매월</dd>\
         <dt>첫 결제</dt><dd class=\"tbc-plan-first\">카드 등록 즉시</dd>\
         <dt>해지</dt><dd class=\"tbc-plan-cancel\">언제든 해지할 수 있어요. 해지하면 다음 결제일부터 결제되지 않아요.</dd>"
    );
    let en = plan_rows_html(
        &PlanSummary {
            name: "Pro".into(),
            cancel_note: Some("<script>alert(1)</script>".into()),
            first_charge_date: Some("2026-12-01".into()),
            ..plan
        },
        Locale::En,
    );
    assert!(
        en.contains(">₩9,900<") && en.contains(">1 December 2026<"),
        "{en}"
    );
    assert!(en.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{en}");
    assert!(!en.contains("<script>"), "{en}");
    let default_note = plan_rows_html(
        &PlanSummary {
            name: "x".into(),
            amount: 1,
            cycle: PlanCycle::Yearly,
            first_charge_date: None,
            cancel_note: None,
        },
        Locale::En,
    );
    assert!(
        default_note.contains("Cancel any time; nothing is charged after you cancel."),
        "{default_note}"
    );
    assert_eq!(
        fill("\u{2}-\u{1}-\u{3}", &["a", "b"]),
        "b-a-",
        "a missing value is empty"
    );
}

fn with(patch: serde_json::Value) -> Result<Config, ConfigError> {
    let mut value = json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001"});
    for (k, v) in patch.as_object().unwrap() {
        value[k] = v.clone();
    }
    raw(value)
}

fn refused_field(result: Result<Config, ConfigError>) -> String {
    match result {
        Err(ConfigError::Invalid { field, .. }) => field.to_owned(),
        Err(ConfigError::Missing(field)) => field.to_owned(),
        Err(other) => other.to_string(),
        Ok(_) => "accepted".to_owned(),
    }
}

#[test]
fn the_plan_setting_is_checked_field_by_field() {
    let plan = |patch: serde_json::Value| {
        let mut plan = json!({"name": "프리미엄 플랜", "amount": 9900, "cycle": "monthly"});
        for (k, v) in patch.as_object().unwrap() {
            plan[k] = v.clone();
        }
        with(json!({ "plan": plan }))
    };
    let config = plan(json!({})).unwrap();
    assert_eq!(
        config.plan,
        Some(PlanSummary {
            name: "프리미엄 플랜".into(),
            amount: 9_900,
            cycle: PlanCycle::Monthly,
            first_charge_date: None,
            cancel_note: None,
        })
    );
    let config = plan(json!({"name": "  Pro  ", "cycle": {"everyDays": 14}, "firstChargeDate": "2026-12-01", "cancelNote": "  "})).unwrap();
    let plan_of = config.plan.unwrap();
    assert_eq!(plan_of.name, "Pro", "trimmed");
    assert_eq!(plan_of.cycle, PlanCycle::EveryDays(14));
    assert_eq!(plan_of.cancel_note, None, "a blank note is the default one");
    assert_eq!(refused_field(plan(json!({"amount": 0}))), "plan.amount");
    assert_eq!(
        refused_field(plan(json!({"amount": 4_294_967_296u64}))),
        "plan.amount",
        "what a browser reads"
    );
    assert!(plan(json!({"amount": 4_294_967_295u64})).is_ok());
    assert_eq!(refused_field(plan(json!({"name": " "}))), "plan.name");
    assert_eq!(
        refused_field(plan(json!({"name": "가".repeat(101)}))),
        "plan.name"
    );
    assert!(plan(json!({"name": "가".repeat(100)})).is_ok());
    assert_eq!(
        refused_field(plan(json!({"cancelNote": "가".repeat(201)}))),
        "plan.cancelNote"
    );
    assert!(plan(json!({"cancelNote": "가".repeat(200)})).is_ok());
    for date in ["2026-12-32", "2026-12-01T00:00:00Z", "12/01/2026"] {
        assert_eq!(
            refused_field(plan(json!({ "firstChargeDate": date }))),
            "plan.firstChargeDate"
        );
    }
    assert_eq!(
        refused_field(plan(json!({"cycle": {"everyDays": 0}}))),
        "plan.cycle"
    );
    // Shapes serde refuses (the browser's reader refuses the same: tests/browser.rs).
    for bad in [
        json!({"cycle": "weekly"}),
        json!({"amount": -1}),
        json!({"amount": 9.5}),
        json!({"price": 1}),
    ] {
        assert!(
            matches!(plan(bad.clone()), Err(ConfigError::Unreadable(_))),
            "{bad}"
        );
    }
    assert_eq!(
        refused_field(plan(json!({ "name": SECRET }))),
        "plan",
        "a secret key is refused wherever it is"
    );
}

#[test]
fn the_continue_link_is_a_checked_url_with_a_short_label() {
    let config = with(json!({"continueUrl": "/account"})).unwrap();
    assert_eq!(config.continue_url.as_deref(), Some("/account"));
    assert_eq!(config.continue_label, None);
    let config = with(
        json!({"continueUrl": "https://shop.example/account?tab=billing", "continueLabel": " 내 구독 보기 "}),
    )
    .unwrap();
    assert_eq!(config.continue_label.as_deref(), Some("내 구독 보기"));
    for bad in [
        "javascript:alert(1)",
        "//evil.example",
        "account",
        "https://",
    ] {
        assert_eq!(
            refused_field(with(json!({ "continueUrl": bad }))),
            "continueUrl",
            "{bad}"
        );
    }
    assert_eq!(
        refused_field(with(
            json!({"continueUrl": "/a", "continueLabel": "가".repeat(41)})
        )),
        "continueLabel"
    );
    assert!(with(json!({"continueUrl": "/a", "continueLabel": "가".repeat(40)})).is_ok());
    assert_eq!(
        refused_field(with(json!({"continueLabel": "Go"}))),
        "continueLabel",
        "a label without a link is a mistake"
    );
    assert_eq!(Text::Continue.get(Locale::Ko), "계속하기");
    assert_eq!(Text::Continue.get(Locale::En), "Continue");
}

#[test]
fn a_live_key_needs_the_real_sdk_and_https() {
    let live = |patch: serde_json::Value| {
        let mut patch = patch;
        patch["clientKey"] = json!("live_ck_abc123");
        with(patch)
    };
    let config = live(json!({})).unwrap();
    assert_eq!(config.check_page_protocol("https:"), Ok(()));
    for protocol in ["http:", "file:", ""] {
        let error = config.check_page_protocol(protocol).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    field: "clientKey",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("https"), "{error}");
    }
    assert_eq!(
        refused_field(live(json!({"sdkUrl": "/sandbox/tosspayments-sandbox.js"}))),
        "sdkUrl"
    );
    assert_eq!(
        refused_field(live(
            json!({"sdkUrl": "https://js.tosspayments.com/v2/standard?x"})
        )),
        "sdkUrl"
    );
    assert_eq!(
        refused_field(live(json!({"backendUrl": "http://api.shop.example/issue"}))),
        "backendUrl"
    );
    assert!(live(json!({"backendUrl": "https://api.shop.example/issue"})).is_ok());
    assert_eq!(
        refused_field(live(
            json!({"customerKey": null, "customerKeyUrl": "http://api.shop.example/me"})
        )),
        "customerKeyUrl"
    );
    let message = live(json!({"sdkUrl": "/sandbox/x.js"}))
        .unwrap_err()
        .to_string();
    assert!(!message.contains("abc123"), "{message}");
    // Test keys may use the sandbox, plain-http backends and plain-http pages (local development).
    let test = with(
        json!({"sdkUrl": "/sandbox/tosspayments-sandbox.js", "backendUrl": "http://127.0.0.1:9/issue"}),
    )
    .unwrap();
    assert_eq!(test.check_page_protocol("http:"), Ok(()));
}

#[test]
fn a_plan_is_picked_by_id_through_the_checkout_url() {
    let base = |extra: serde_json::Value| {
        let mut value = json!({"clientKey": "test_ck_abc", "customerKeyUrl": "/api/checkout"});
        for (k, v) in extra.as_object().unwrap() {
            value[k] = v.clone();
        }
        raw(value)
    };
    assert_eq!(
        base(json!({"planId": "basic-monthly"})).unwrap().customer,
        CustomerSource::Url("/api/checkout?plan=basic-monthly".into())
    );
    assert_eq!(
        base(json!({"customerKeyUrl": "/api/checkout?src=shop", "planId": "pro_1"}))
            .unwrap()
            .customer,
        CustomerSource::Url("/api/checkout?src=shop&plan=pro_1".into())
    );
    for bad in ["", "a b", "a&plan=x", &"x".repeat(41)] {
        assert!(
            matches!(
                base(json!({"planId": bad})),
                Err(ConfigError::Invalid {
                    field: "planId",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    let secret = base(json!({"planId": "test_sk_abcdef"})).unwrap_err();
    assert!(!secret.to_string().contains("abcdef"), "{secret}");
    assert!(matches!(
        raw(json!({"clientKey": "test_ck_abc", "customerKey": "customer-0001", "planId": "basic"})),
        Err(ConfigError::Invalid {
            field: "planId",
            ..
        })
    ));
}

#[test]
fn the_demo_pages_configurations_are_valid() {
    // index.html takes its plan summary from a checkout session (GET /api/checkout): no plan
    // block that could disagree with what billing-server charges.
    for (page, plan) in [("index.html", false), ("examples/embed.html", false)] {
        let html =
            std::fs::read_to_string(format!("{}/{page}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let start = html.find(r#"id="toss-billing-config">"#).unwrap();
        let block = &html[start..];
        let json_text = &block[block.find('>').unwrap() + 1..block.find("</script>").unwrap()];
        let config = serde_json::from_str::<RawConfig>(json_text)
            .unwrap_or_else(|e| panic!("{page}: {e}"))
            .validate()
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert_eq!(config.plan.is_some(), plan, "{page}");
    }
}

// --- architecture --------------------------------------------------------------------------

#[test]
fn the_pure_layer_imports_nothing_above_it() {
    let dir = format!("{}/src/checkout", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for forbidden in [
            "crate::",
            "web_sys",
            "js_sys",
            "wasm_bindgen",
            "leptos",
            "gloo",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} mentions `{forbidden}`: src/checkout may use only `super::`, std and the contract",
                path.display()
            );
        }
    }
}

/// Runs scripts/boot.js's `pageFor` with node on every case; its answers, in order.
fn loader_page_rule(cases: &[(String, String, String)]) -> Vec<String> {
    let boot =
        std::fs::read_to_string(format!("{}/scripts/boot.js", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let start = boot
        .find("function pageFor(")
        .expect("scripts/boot.js defines function pageFor(successPath, failPath, pathname)");
    let end = start
        + boot[start..]
            .find("\n}\n")
            .expect("pageFor ends with a `}` line")
        + 3;
    let script = format!(
        "{}\nconst cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n\
         process.stdout.write(JSON.stringify(cases.map((c) => pageFor(...c))));",
        &boot[start..end]
    );
    let mut node = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (installed by scripts/bootstrap.sh) runs the loader's page rule");
    use std::io::Write;
    node.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(cases).unwrap().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success(), "node failed");
    serde_json::from_slice(&output.stdout).unwrap()
}

fn contract_page_name(page: Page) -> &'static str {
    match page {
        Page::Register => "register",
        Page::Success => "success",
        Page::Fail => "fail",
    }
}

#[test]
fn the_loaders_page_rule_is_the_contracts() {
    let paths = [
        "/",
        "",
        "/billing/success",
        "/billing/success/",
        "/billing/success//",
        "/billing/success?x=1",
        "/billing/success/extra",
        "/billing/fail",
        "/billing/fail/",
        "/BILLING/fail",
        "/billing",
        "/shop/checkout",
        "/결제/완료",
        "/%EA%B2%B0%EC%A0%9C",
        "/a?b?c",
        "?",
        "//",
        "/billing/success?",
    ];
    let configured = [
        ("/billing/success", "/billing/fail"),
        ("/billing/success?from=checkout", "/billing/fail/"),
        ("/done", "/oops"),
        ("/", "/fail"),
        ("/결제/완료", "/결제/실패"),
    ];
    let mut cases = vec![];
    for (success, fail) in configured {
        for path in paths {
            cases.push((success.to_owned(), fail.to_owned(), path.to_owned()));
        }
    }
    // And a few thousand random ones over a small alphabet, so that near-misses are common.
    let alphabet: Vec<char> = "/?ab결".chars().collect();
    let mut seed: u32 = 0x2545_f491;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..3_000 {
        let mut word = || -> String {
            let len = next() % 6;
            (0..len)
                .map(|_| alphabet[next() as usize % alphabet.len()])
                .collect()
        };
        cases.push((word(), word(), word()));
    }
    let ours = loader_page_rule(&cases);
    assert_eq!(ours.len(), cases.len());
    for ((success, fail, path), answer) in cases.iter().zip(&ours) {
        let expected = contract_page_name(toss_billing_contract::page_for(success, fail, path));
        assert_eq!(
            answer, expected,
            "page_for({success:?}, {fail:?}, {path:?}): the loader says {answer}"
        );
    }
}

#[test]
fn a_merchant_refusal_with_a_code_we_do_not_know_shows_the_merchants_words() {
    assert_eq!(
        merchant_message("MEMBERSHIP_REQUIRED", "회원만 구독할 수 있어요"),
        Some("회원만 구독할 수 있어요".to_owned())
    );
    // Our copy wins for a code we know: it is in the page's language.
    assert_eq!(merchant_message("INVALID_CARD_NUMBER", "bad number"), None);
    // No words: our generic copy.
    assert_eq!(merchant_message("MEMBERSHIP_REQUIRED", " \n\t "), None);
    // Bounded, control characters dropped.
    let long = "가".repeat(500);
    let shown = merchant_message("X", &format!("a\u{7}b{long}")).unwrap();
    assert!(shown.starts_with("ab가"));
    assert_eq!(shown.chars().count(), MAX_MERCHANT_MESSAGE_CHARS);
}
