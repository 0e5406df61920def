//! The customer's card sales slip (`receipt.url` of a Payment): a small HTML page a merchant's
//! portal links to, served at `GET /receipts/{paymentKey}` under whatever address the simulator
//! was reached at (billing-server's demo nests it under `/__toss-sim`).

use axum::http::header::HOST;
use axum::http::HeaderMap;
use serde_json::Value;

/// `scheme://host/prefix` of the simulator as the caller reached it, from the `Host` header and
/// the part of the original request path a host router stripped before the simulator saw it
/// (`original_path` ends with `path`). `None` without a usable `Host`: the receipt URL then
/// falls back to a placeholder.
pub(crate) fn receipt_base(headers: &HeaderMap, original_path: &str, path: &str) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let prefix = original_path.strip_suffix(path).unwrap_or("");
    let prefix_ok = prefix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    if !host_ok || !prefix_ok {
        return None;
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    Some(format!("{scheme}://{host}{prefix}"))
}

/// Escapes text for HTML (every value on the page comes from a request body).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `9900` → `9,900원`.
fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(d);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{grouped}원")
}

fn field<'a>(payment: &'a Value, pointer: &str) -> &'a str {
    payment
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("-")
}

fn amount(value: &Value, pointer: &str) -> String {
    won(value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0))
}

fn row(label: &str, value: &str) -> String {
    format!(
        "<tr><th>{}</th><td>{}</td></tr>\n",
        escape(label),
        escape(value)
    )
}

/// The page for one Payment: amount, order name, masked card, approval number, approval time,
/// status, and every cancel.
pub(crate) fn render(payment: &Value) -> String {
    let mut rows = String::new();
    rows.push_str(&row("주문명", field(payment, "/orderName")));
    rows.push_str(&row("주문번호", field(payment, "/orderId")));
    rows.push_str(&row("결제금액", &amount(payment, "/totalAmount")));
    rows.push_str(&row("취소 후 잔액", &amount(payment, "/balanceAmount")));
    rows.push_str(&row("상태", field(payment, "/status")));
    let card = format!(
        "{} {}",
        field(payment, "/card/number"),
        field(payment, "/card/cardType")
    );
    rows.push_str(&row("카드", &card));
    rows.push_str(&row("승인번호", field(payment, "/card/approveNo")));
    rows.push_str(&row("승인일시", field(payment, "/approvedAt")));
    let cancels = payment["cancels"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, cancel) in cancels.iter().enumerate() {
        let line = format!(
            "{} · {} · {}",
            amount(cancel, "/cancelAmount"),
            field(cancel, "/canceledAt"),
            field(cancel, "/cancelReason")
        );
        rows.push_str(&row(&format!("취소 {}", i + 1), &line));
    }
    page(
        "카드 매출전표",
        &format!("<table>\n{rows}</table>\n<p class=\"note\">Toss 결제 시뮬레이터의 영수증입니다. 실제 카드 거래가 아닙니다.</p>"),
    )
}

/// The page for a paymentKey the simulator does not know.
pub(crate) fn not_found() -> String {
    page(
        "영수증을 찾을 수 없습니다",
        "<p>존재하지 않는 결제 정보 입니다.</p>",
    )
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}\
         th{{text-align:left;padding-right:1rem;color:#555}}td,th{{padding:.25rem 0}}\
         .note{{color:#777;font-size:.85rem}}</style></head>\n\
         <body><h1>{title}</h1>\n{content}\n</body></html>\n",
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(host) = host {
            h.insert(HOST, host.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_base_keeps_the_prefix_a_host_nested_the_simulator_under() {
        let nested = receipt_base(
            &headers(Some("127.0.0.1:8080")),
            "/__toss-sim/v1/billing/abc%3D",
            "/v1/billing/abc%3D",
        );
        assert_eq!(nested.as_deref(), Some("http://127.0.0.1:8080/__toss-sim"));
        let alone = receipt_base(&headers(Some("sim:8090")), "/v1/billing/k", "/v1/billing/k");
        assert_eq!(alone.as_deref(), Some("http://sim:8090"));
        assert_eq!(
            receipt_base(&headers(None), "/v1/billing/k", "/v1/billing/k"),
            None
        );
        assert_eq!(
            receipt_base(
                &headers(Some("x\"><script>")),
                "/v1/billing/k",
                "/v1/billing/k"
            ),
            None
        );
        let mut https = headers(Some("shop.example"));
        https.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(
            receipt_base(&https, "/v1/billing/k", "/v1/billing/k").as_deref(),
            Some("https://shop.example")
        );
    }

    #[test]
    fn the_page_shows_the_amount_and_escapes_what_the_merchant_sent() {
        let payment = json!({
            "orderName": "<b>월간</b> 구독", "orderId": "order-1", "totalAmount": 1_234_567,
            "balanceAmount": 1_234_000, "status": "PARTIAL_CANCELED", "approvedAt": "2026-01-01T09:00:00+09:00",
            "card": {"issuerCode": "61", "number": "433012******123*", "approveNo": "00000001"},
            "cancels": [{"cancelAmount": 567, "canceledAt": "2026-01-02T09:00:00+09:00", "cancelReason": "고객 요청"}],
        });
        let html = render(&payment);
        assert!(html.contains("1,234,567원"));
        assert!(html.contains("567원"));
        assert!(html.contains("433012******123*"));
        assert!(html.contains("00000001"));
        assert!(html.contains("&lt;b&gt;월간&lt;/b&gt;"));
        assert!(!html.contains("<b>"));
        assert_eq!(won(0), "0원");
        assert_eq!(won(100), "100원");
        assert_eq!(won(9_900), "9,900원");
    }
}
