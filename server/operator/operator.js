// The operator page of billing-server: lists subscriptions (status, next charge, card), shows one
// with its charge attempts, its charges with their refunds (and every call made to Toss for each
// refund) and its events, and offers retry, cancel, "period used" and a refund of any of its
// charges (all or part, with a reason); in demo and test mode it also moves the server's clock. Everything goes through the operator JSON API with the bearer token,
// kept in this tab's sessionStorage only.
const $ = (selector) => document.querySelector(selector);
const state = { token: sessionStorage.getItem("operator-token") ?? "", selected: null, subscriptions: [] };

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { authorization: `Bearer ${state.token}`, "content-type": "application/json", ...(options.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${response.status} ${body.code ?? ""} ${body.message ?? ""}`.trim());
  return body;
}

const cell = (text) => Object.assign(document.createElement("td"), { textContent: text ?? "—" });
const when = (iso) => (iso ? iso.replace("T", " ").replace("+09:00", " KST") : "—");

function renderSubscriptions() {
  const body = $("#subscriptions tbody");
  body.replaceChildren(
    ...state.subscriptions.map((s) => {
      const row = document.createElement("tr");
      row.dataset.id = s.id;
      if (s.id === state.selected) row.className = "selected";
      const status = cell(s.status + (s.cancelAtPeriodEnd ? " (ends)" : ""));
      status.className = `status-${s.status}`;
      const open = Object.assign(document.createElement("button"), { type: "button", textContent: "Open" });
      open.addEventListener("click", () => select(s.id));
      const actions = document.createElement("td");
      actions.append(open);
      row.append(
        cell(String(s.id)),
        cell(s.customerKey.slice(0, 8) + "…"),
        cell(s.plan ? `${s.plan.name} · ${s.plan.amount.toLocaleString("ko-KR")}원` : s.planId),
        status,
        cell(`${s.period} (${when(s.currentPeriodStart)} – ${when(s.currentPeriodEnd)})`),
        cell(when(s.nextChargeAt)),
        cell(s.card ? `${s.card.company ?? ""} ${s.card.number ?? ""}`.trim() : "—"),
        actions,
      );
      return row;
    }),
  );
  $("#status").textContent = `${state.subscriptions.length} subscription(s)`;
}

const won = (n) => (n == null ? "—" : `${n.toLocaleString("ko-KR")}원`);

function renderCharges(charges) {
  $("#charges tbody").replaceChildren(
    ...charges.map((c) => {
      const row = document.createElement("tr");
      const receipt = document.createElement("td");
      if (c.receiptUrl) {
        receipt.append(Object.assign(document.createElement("a"), { href: c.receiptUrl, textContent: "매출전표", target: "_blank", rel: "noopener" }));
      } else receipt.textContent = "—";
      row.append(cell(c.orderId), cell(c.purpose), cell(c.status), cell(won(c.amount)), cell(won(c.refundedAmount)),
        cell(c.balance == null ? "—" : won(c.balance)), receipt);
      return row;
    }),
  );
  const select = $("#refund-order");
  const chosen = select.value;
  select.replaceChildren(
    ...charges.filter((c) => c.status === "DONE" && c.balance > 0).map((c) =>
      Object.assign(document.createElement("option"), { value: c.orderId, textContent: `${c.orderId} · ${won(c.balance)} left` })),
  );
  if (chosen) select.value = chosen;
  $("#refund-form").hidden = select.options.length === 0;
}

async function renderRefunds() {
  const { refunds } = await api(`/api/admin/refunds?subscriptionId=${state.selected}`);
  $("#refunds").replaceChildren(
    ...refunds.map((r) => {
      const calls = (r.calls ?? []).map((c) => `${c.kind} ${c.httpStatus ?? "—"} ${c.outcome}${c.code ? ` ${c.code}` : ""}`).join(", ");
      return Object.assign(document.createElement("li"), {
        textContent: `${when(r.createdAt)} · ${r.refundId} · ${r.kind} · ${won(r.amount)} of ${r.orderId} · ${r.status}${r.code ? ` (${r.code})` : ""} · ${r.reason}${calls ? ` · calls: ${calls}` : ""}`,
      });
    }),
  );
}

// The customer's account page's facts, from the subscription view both pages share: what they
// are told about the next charge and a pending change (and whether they can answer it now).
function renderCustomerView(s) {
  const won = (n) => `${Number(n).toLocaleString("ko-KR")}원`;
  const change = s.pendingChange;
  const facts = [
    ["Plan", `${s.plan?.name ?? "?"} · ${won(s.amount)}`],
    ["Status", s.cancelAtPeriodEnd ? `${s.status}, ending ${when(s.endsAt)}` : s.status],
    ["Next charge", s.nextCharge ? `${when(s.nextCharge.at)} · ${won(s.nextCharge.amount)}` : "none promised"],
    ["Card", s.card ? `${s.card.company ?? ""} ${s.card.number ?? ""}`.trim() : "none"],
    ["Pending change", change
      ? `${change.kind} ${won(change.priceBefore)} → ${won(change.priceAfter)} from ${change.effectiveDate}; ${change.needsConsent ? (change.answerable ? "asked now (동의/거부 shown)" : "told, asked when its consent window opens") : "no answer needed"}`
      : "none"],
  ];
  $("#customer-view").replaceChildren(...facts.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), { textContent: k }),
    Object.assign(document.createElement("dd"), { textContent: v }),
  ]));
}

async function renderDetail() {
  if (state.selected == null) return;
  const { subscription, attempts, charges, changes, consents, events } = await api(`/api/admin/subscriptions/${state.selected}`);
  renderCharges(charges ?? []);
  await renderRefunds();
  $("#detail").hidden = false;
  $("#detail-title").textContent = `Subscription #${subscription.id} · ${subscription.status}`;
  renderCustomerView(subscription);
  const live = ["TRIALING", "INCOMPLETE", "ACTIVE", "PAST_DUE"].includes(subscription.status);
  for (const id of ["#retry", "#cancel-end", "#cancel-now", "#period-used"]) $(id).disabled = !live;
  $("#attempts tbody").replaceChildren(
    ...attempts.map((a) => {
      const row = document.createElement("tr");
      const status = cell(a.status);
      status.className = a.status === "DONE" ? "status-ACTIVE" : a.status === "FAILED" ? "status-CANCELED" : "";
      row.append(cell(a.orderId), cell(String(a.period)), cell(String(a.attempt)), status,
        cell(`${a.amount.toLocaleString("ko-KR")}원`), cell(a.code), cell(when(a.createdAt)));
      return row;
    }),
  );
  const won = (n) => `${Number(n).toLocaleString("ko-KR")}원`;
  $("#changes tbody").replaceChildren(
    ...(changes ?? []).map((c) => {
      const row = document.createElement("tr");
      row.append(cell(String(c.changeId)), cell(c.kind), cell(c.status), cell(`${won(c.priceBefore)} → ${won(c.priceAfter)}`),
        cell(c.effectiveDate), cell(c.needsConsent ? `${when(c.consentOpensAt)} – ${when(c.consentClosesAt)}` : "no consent needed"));
      return row;
    }),
  );
  $("#consents tbody").replaceChildren(
    ...(consents ?? []).map((c) => {
      const row = document.createElement("tr");
      row.append(cell(String(c.id)), cell(String(c.changeId)), cell(c.decision), cell(c.channel), cell(c.textVersion), cell(when(c.decidedAt)));
      return row;
    }),
  );
  $("#events").replaceChildren(
    ...events.map((e) => Object.assign(document.createElement("li"), {
      textContent: `${when(e.createdAt)} · ${e.type}${e.delivered ? "" : " (not delivered yet)"} · ${JSON.stringify(e.data)}`,
    })),
  );
}

async function refresh() {
  try {
    state.subscriptions = (await api("/api/admin/subscriptions?limit=100")).subscriptions;
    renderSubscriptions();
    await renderDetail();
    const clock = await api("/api/admin/clock").catch(() => null);
    $("#clock").hidden = !clock;
    if (clock) $("#now").textContent = when(clock.now);
  } catch (error) {
    $("#status").textContent = `Could not load: ${error.message}`;
  }
}

function select(id) {
  state.selected = id;
  renderSubscriptions();
  renderDetail();
}

async function act(path, body) {
  try {
    await api(path, { method: "POST", body: JSON.stringify(body ?? {}) });
  } catch (error) {
    $("#status").textContent = error.message;
  }
  await refresh();
}

$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  state.token = $("#token").value.trim();
  sessionStorage.setItem("operator-token", state.token);
  start();
});
$("#retry").addEventListener("click", () => act(`/api/admin/subscriptions/${state.selected}/retry`));
$("#cancel-end").addEventListener("click", () => act(`/api/admin/subscriptions/${state.selected}/cancel`, { when: "period_end" }));
$("#cancel-now").addEventListener("click", () => act(`/api/admin/subscriptions/${state.selected}/cancel`, { when: "now" }));
$("#period-used").addEventListener("click", () => act(`/api/admin/subscriptions/${state.selected}/period-used`));
// One Idempotency-Key per refund the operator means: kept until Toss's answer is final, so a
// retried click (or a lost answer) is the same refund, never a second one.
let refundKey = null;
$("#refund-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const order = $("#refund-order").value;
  const amount = $("#refund-amount").value.trim();
  const body = { reason: $("#refund-reason").value.trim() };
  if (amount) body.amount = Number(amount);
  refundKey ??= crypto.randomUUID();
  try {
    const refund = await api(`/api/admin/charges/${encodeURIComponent(order)}/refunds`, {
      method: "POST", body: JSON.stringify(body), headers: { "idempotency-key": refundKey },
    });
    $("#status").textContent = `Refund ${refund.refundId}: ${won(refund.amount)} ${refund.status}`;
    if (refund.status === "DONE" || refund.status === "FAILED") {
      refundKey = null;
      $("#refund-amount").value = "";
    }
  } catch (error) {
    $("#status").textContent = `Refund: ${error.message}`;
    // A refusal (4xx) is final; a 5xx or a lost answer is retried with the same key.
    if (/^4\d\d /.test(error.message)) refundKey = null;
  }
  await refresh();
});
// Another charge, amount or reason is another refund.
$("#refund-form").addEventListener("input", () => { refundKey = null; });
$("#plus-day").addEventListener("click", () => act("/api/admin/clock", { advanceMs: 86_400_000 }));
$("#to-next-charge").addEventListener("click", () => {
  const next = state.subscriptions.map((s) => s.nextChargeAt).filter(Boolean).sort()[0];
  if (next) act("/api/admin/clock", { to: next });
});

async function start() {
  try {
    await api("/api/admin/subscriptions?limit=1");
  } catch (error) {
    $("#app").hidden = true;
    $("#status").textContent = "";
    $("#token").setCustomValidity(error.message);
    $("#token").reportValidity();
    return;
  }
  $("#token").setCustomValidity("");
  $("#app").hidden = false;
  await refresh();
  clearInterval(state.timer);
  state.timer = setInterval(refresh, 2000);
}

fetch("/api/health").then((r) => r.json()).then((h) => { $("#demo-hint").hidden = h.mode !== "demo"; }).catch(() => {});
if (state.token) {
  $("#token").value = state.token;
  start();
}
