/*
 * The full-page card window of the TossPayments offline sandbox (windowTarget "self").
 * tosspayments-sandbox.js must run first: the form, the authKey and the redirect URLs come from
 * TossPayments.__sandbox.ui, shared with the in-page overlay.
 *
 * The request arrives in the URL hash (never the query) as encodeURIComponent(JSON):
 *   {v: 1, successUrl, failUrl, customerKey, selectableCardTypes?, customerName?}
 * Register -> location.replace(successUrl + customerKey + authKey); cancel -> failUrl with
 * PAY_PROCESS_CANCELED; the test buttons -> failUrl with their code.
 */
(function () {
  "use strict";
  var root = document.getElementById("tsbx-root") || document.body;
  var TP = window.TossPayments;
  var sb = TP && TP.__sandbox;

  function clear() {
    while (root.firstChild) root.removeChild(root.firstChild);
  }

  if (!sb || !sb.ui) {
    clear();
    var p = document.createElement("p");
    p.setAttribute("role", "alert");
    p.textContent = "테스트용 결제창을 열 수 없습니다: tosspayments-sandbox.js를 불러오지 못했습니다.";
    root.appendChild(p);
    return;
  }
  var ui = sb.ui;

  function refuse(reason) {
    var err = new Error(reason);
    err.refused = true;
    return err;
  }

  /** The request carried in the hash, checked; throws an Error with a Korean reason. */
  function parseHash(hash) {
    if (typeof hash !== "string" || hash.length < 2) throw refuse("결제 요청 정보가 없습니다. 이 페이지는 결제 요청으로만 열 수 있습니다.");
    var data;
    try {
      data = JSON.parse(decodeURIComponent(hash.slice(1)));
    } catch (e) {
      throw refuse("결제 요청 정보가 손상되었습니다.");
    }
    if (data === null || typeof data !== "object" || Array.isArray(data) || data.v !== 1) {
      throw refuse("결제 요청 정보의 형식이 올바르지 않습니다.");
    }
    if (!ui.isHttpUrl(data.successUrl)) throw refuse("successUrl이 http(s) 절대 주소가 아닙니다.");
    if (!ui.isHttpUrl(data.failUrl)) throw refuse("failUrl이 http(s) 절대 주소가 아닙니다.");
    if (!sb.isValidCustomerKey(data.customerKey) || data.customerKey === TP.ANONYMOUS) {
      throw refuse("customerKey가 올바르지 않습니다.");
    }
    var types = data.selectableCardTypes;
    if (types !== undefined) {
      var ok = Array.isArray(types) && types.length > 0 && types.every(function (t, i) {
        return ui.cardTypes.indexOf(t) !== -1 && types.indexOf(t) === i;
      });
      if (!ok) throw refuse("selectableCardTypes가 올바르지 않습니다.");
    }
    var name = data.customerName;
    if (name !== undefined && (typeof name !== "string" || ui.charCount(name) > 100)) {
      throw refuse("customerName이 올바르지 않습니다.");
    }
    return {
      successUrl: data.successUrl,
      failUrl: data.failUrl,
      customerKey: data.customerKey,
      selectableCardTypes: types ? types.slice() : ui.cardTypes.slice(),
      customerName: name,
    };
  }

  function go(url) {
    sb.navigations.push(url);
    window.location.replace(url);
  }

  function render() {
    clear();
    var request;
    try {
      request = parseHash(window.location.hash);
    } catch (e) {
      var reason = e && e.refused ? e.message : "결제 요청 정보를 읽을 수 없습니다.";
      root.appendChild(ui.buildErrorPanel(document, "결제창을 열 수 없습니다", reason));
      document.title = "결제창을 열 수 없습니다 · SANDBOX";
      return;
    }
    var view;
    view = ui.buildCardWindow(
      document,
      request,
      {
        onRegister: function (card) {
          view.setBusy(true);
          go(ui.successUrlFor(request, card));
        },
        onCancel: function () {
          view.setBusy(true);
          go(ui.failUrlFor(request, "PAY_PROCESS_CANCELED"));
        },
        onFail: function (code) {
          view.setBusy(true);
          go(ui.failUrlFor(request, code));
        },
      },
      { headingLevel: "h1" }
    );
    view.root.setAttribute("aria-labelledby", view.titleId);
    root.appendChild(view.root);
    view.focusFirst();
  }

  ui.ensureStylesheet(document);
  window.addEventListener("hashchange", render);
  // A page restored from the back/forward cache must not stay disabled ("이동 중…").
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) render();
  });
  render();
})();
