//! Every answer of the customer's side follows the schema `server/openapi.json` gives for it.
//!
//! Many handlers build their bodies with `json!`, beside a schema struct that only describes
//! them; this story is what keeps the two the same. The checker reads the subset of JSON Schema
//! utoipa writes (`$ref`, `oneOf`/`anyOf`/`allOf`, `type` and its lists, `enum`, `required`,
//! `properties`, `additionalProperties`, `items`): a required field missing, a field of another
//! type or an unknown enum value fails, with the JSON path. Fields the description does not name
//! are allowed (the description leaves `additionalProperties` open).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{good_card, Customer, Db, Env, OPERATOR};
use crate::{stories, BOTH};

stories! {
    BOTH => each_customer_answer_follows_its_described_schema,
}

/// The committed description (a unit test keeps it equal to what the server serves).
struct Description(Value);

impl Description {
    fn committed() -> Description {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
            .expect("server/openapi.json");
        Description(serde_json::from_str(&text).expect("the description is JSON"))
    }

    /// Fails unless `body`, answered with `status` to `method path` (the described path, with
    /// its `{parameters}`), follows the schema described for that answer.
    fn check(&self, method: &str, path: &str, status: StatusCode, body: &Value) {
        let response = &self.0["paths"][path][method]["responses"][status.as_str()];
        assert!(
            !response.is_null(),
            "{method} {path} answered {status}, which its description does not list: {body}"
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "{method} {path} {status}: the description gives no JSON schema"
        );
        let mut problems = Vec::new();
        self.walk(schema, body, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{method} {path} {status}: the body differs from its description:\n  {}\n{body:#}",
            problems.join("\n  ")
        );
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            let target = &self.0["components"]["schemas"][name];
            assert!(!target.is_null(), "{reference} is not in the description");
            self.walk(target, value, at, problems);
        }
        for all in schema["allOf"].as_array().into_iter().flatten() {
            self.walk(all, value, at, problems);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema[key].as_array() {
                let misfits: Vec<Vec<String>> = branches
                    .iter()
                    .map(|branch| {
                        let mut inner = Vec::new();
                        self.walk(branch, value, at, &mut inner);
                        inner
                    })
                    .collect();
                if misfits.iter().all(|inner| !inner.is_empty()) {
                    // Each branch says why it does not fit.
                    problems.push(format!("{at}: fits none of its {key}:"));
                    problems.extend(misfits.into_iter().flatten());
                }
            }
        }
        if let Some(allowed) = schema["enum"].as_array() {
            if !allowed.contains(value) {
                problems.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| is_of_type(value, t)) {
            problems.push(format!("{at}: {value} is not {}", types.join(" or ")));
            return;
        }
        if let Some(object) = value.as_object() {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    problems.push(format!("{at}.{name}: required, missing"));
                }
            }
            for (name, field) in object {
                let inner = format!("{at}.{name}");
                match schema["properties"].get(name) {
                    Some(property) => self.walk(property, field, &inner, problems),
                    None if schema["additionalProperties"].is_object() => {
                        self.walk(&schema["additionalProperties"], field, &inner, problems)
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.walk(items, item, &format!("{at}[{i}]"), problems);
            }
        }
    }
}

fn is_of_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// `method path` as customer `c` (with a JSON `body` if given): fails unless the answer has
/// status `want` and follows the schema described for it (the path without its query); the body.
async fn answer(
    env: &Env,
    described: &Description,
    c: &Customer,
    (method, path, body): (Method, &str, Option<Value>),
    want: StatusCode,
) -> Value {
    let (name, value) = c.auth();
    let mut request = env
        .http
        .request(method.clone(), env.url(path))
        .header(name, value);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    let got: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(status, want, "{method} {path}: {got}");
    let described_path = path.split('?').next().unwrap_or(path);
    described.check(
        &method.as_str().to_lowercase(),
        described_path,
        status,
        &got,
    );
    got
}

/// A subscriber's answers (the checkout, the registration, the subscription with a price rise's
/// terms, its charges, the plans, both previews, the card, a cancellation and its undo), a
/// stranger's, and the refusals a portal meets — each checked against its description.
async fn each_customer_answer_follows_its_described_schema(db: Db) {
    let env = Env::start(db).await;
    let described = Description::committed();
    let get = |path| (Method::GET, path, None);
    let post = |path, body| (Method::POST, path, Some(body));

    // A stranger: no subscription, no card.
    let stranger = env.visitor().await;
    for (path, want) in [
        ("/api/subscription", StatusCode::NOT_FOUND),
        ("/api/customer/card", StatusCode::OK),
        ("/api/subscription/charges", StatusCode::OK),
    ] {
        answer(&env, &described, &stranger, get(path), want).await;
    }

    // A subscriber of premium-monthly.
    let c = env.shopper("premium-monthly").await;
    let checkout = get("/api/checkout?plan=basic-monthly");
    answer(&env, &described, &c, checkout, StatusCode::OK).await;
    let (status, registered) = env.hand_off_until_final(&c, &good_card(&c.key)).await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    described.check("post", "/api/billing/issue", status, &registered);
    for path in [
        "/api/customer",
        "/api/subscription",
        "/api/subscription/charges",
        "/api/plans",
        "/api/subscription/cancel/preview",
        "/api/subscription/switch?plan=basic-monthly",
        "/api/customer/card",
    ] {
        answer(&env, &described, &c, get(path), StatusCode::OK).await;
    }

    // A price rise announced: the subscription carries its terms (in both languages).
    let effective = billing_server::clock::iso_kst(env.clock.now_ms() + 40 * 86_400_000);
    let r = env
        .http
        .patch(env.url("/api/admin/plans/premium-monthly"))
        .header("authorization", format!("Bearer {OPERATOR}"))
        .json(&json!({"amount": 12_900, "effectiveAt": effective}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let subscription = answer(
        &env,
        &described,
        &c,
        get("/api/subscription"),
        StatusCode::OK,
    )
    .await;
    assert!(subscription["pendingChange"].is_object(), "{subscription}");

    // Refusals a portal meets.
    for (request, want) in [
        (
            (Method::DELETE, "/api/customer/card", None),
            StatusCode::CONFLICT,
        ),
        (
            post("/api/subscription/cancel", json!({"when": "someday"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                "/api/subscription/switch",
                json!({"planId": "basic-monthly", "expectedCharge": 1}),
            ),
            StatusCode::CONFLICT,
        ),
    ] {
        answer(&env, &described, &c, request, want).await;
    }

    // 일반해지, and its undo.
    let cancel = post(
        "/api/subscription/cancel",
        json!({"when": "period_end", "expectedRefund": 0}),
    );
    answer(&env, &described, &c, cancel, StatusCode::OK).await;
    let undone = answer(
        &env,
        &described,
        &c,
        (Method::POST, "/api/subscription/cancel/undo", None),
        StatusCode::OK,
    )
    .await;

    // What the operator reads about it.
    let subscription_id = undone["id"].as_i64().expect("the subscription's id");
    let charges = answer(
        &env,
        &described,
        &c,
        get("/api/subscription/charges"),
        StatusCode::OK,
    )
    .await;
    let order_id = charges["charges"][0]["orderId"]
        .as_str()
        .expect("a charge")
        .to_owned();
    for (described_path, path) in [
        (
            "/api/admin/subscriptions",
            "/api/admin/subscriptions".to_owned(),
        ),
        (
            "/api/admin/subscriptions/{id}",
            format!("/api/admin/subscriptions/{subscription_id}"),
        ),
        (
            "/api/admin/charges/{orderId}",
            format!("/api/admin/charges/{order_id}"),
        ),
        ("/api/admin/plans", "/api/admin/plans".to_owned()),
        (
            "/api/admin/price-changes",
            "/api/admin/price-changes".to_owned(),
        ),
        ("/api/admin/refunds", "/api/admin/refunds".to_owned()),
        ("/api/admin/clock", "/api/admin/clock".to_owned()),
    ] {
        let r = env
            .http
            .get(env.url(&path))
            .header("authorization", format!("Bearer {OPERATOR}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        described.check("get", described_path, status, &body);
    }
}
