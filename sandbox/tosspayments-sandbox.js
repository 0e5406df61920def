/*
 * Offline sandbox for https://js.tosspayments.com/v2/standard (TossPayments JS SDK v2),
 * limited to the card "billing" flow: TossPayments(clientKey).payment({customerKey})
 * .requestBillingAuth(params) and .destroy().
 *
 * Classic script, ES2017, no dependencies, CSP-friendly: DOM is built with createElement and
 * textContent only, styles come from sandbox.css (next to this file) or CSSOM. Nothing here
 * talks to the network except fetching sandbox.css.
 *
 * Test hooks live on TossPayments.__sandbox (see README.md in this folder).
 * THIS IS NOT THE REAL TOSS PAYMENTS WINDOW. Never deploy it to production.
 */
(function () {
  "use strict";
  if (typeof window === "undefined" || typeof document === "undefined") return;
  if (typeof window.TossPayments === "function" && window.TossPayments.__sandbox) return;

  var ANONYMOUS = "@@ANONYMOUS";
  var OUTCOME_STORAGE_KEY = "tossSandbox.nextOutcome";
  var CUSTOMER_KEY_RE = /^[A-Za-z0-9\-_=.@]{2,50}$/;
  var PARAM_KEYS = [
    "method", "successUrl", "failUrl", "customerName", "customerEmail", "windowTarget",
    "selectableCardTypes", "flowMode", "easyPay", "cardCompany",
  ];
  var CARD_TYPES = ["PERSONAL", "CORPORATE"];
  var DEFAULT_CARD_NUMBER = "4330123412341234";
  var MAX_AUTH_KEY_LENGTH = 300;

  var MESSAGES = {
    INVALID_CLIENT_KEY: "클라이언트 키가 올바르지 않습니다. test_ck_ 또는 live_ck_로 시작하는 API 개별 연동 키를 사용하세요.",
    INSECURE_KEY_USAGE: "시크릿 키는 브라우저에서 사용할 수 없습니다. 클라이언트 키를 사용하세요.",
    NOT_SUPPORTED_WIDGET_KEY: "결제위젯 연동 키는 결제창(payment)에서 사용할 수 없습니다. API 개별 연동 키를 사용하세요.",
    INVALID_CUSTOMER_KEY: "customerKey가 올바르지 않습니다. 영문 대소문자, 숫자, 특수문자(- _ = . @)로 이루어진 2자 이상 50자 이하의 문자열이어야 합니다.",
    INVALID_METHOD_TRANSACTION: "이미 진행 중인 결제 요청이 있습니다. 잠시 후 다시 시도해 주세요.",
    NOT_SUPPORTED_METHOD: "지원하지 않는 결제수단입니다. 자동결제(빌링) 계약이 되어 있는지 확인해 주세요.",
    INVALID_PARAMETERS: "잘못된 파라미터입니다.",
    INCORRECT_SUCCESS_URL_FORMAT: "successUrl은 http:// 또는 https://로 시작하는 절대 주소여야 합니다.",
    INCORRECT_FAIL_URL_FORMAT: "failUrl은 http:// 또는 https://로 시작하는 절대 주소여야 합니다.",
    USER_CANCEL: "사용자가 결제를 취소했습니다.",
    PAYMENT_REQUEST_ABORTED: "결제 요청이 중단되었습니다.",
    PAY_PROCESS_CANCELED: "사용자에 의해 결제가 취소되었습니다.",
    PAY_PROCESS_ABORTED: "결제 진행 중 오류가 발생해 결제가 중단되었습니다.",
    REJECT_CARD_COMPANY: "카드사에서 카드 정보를 거절했습니다. 입력한 정보를 확인해 주세요.",
    UNKNOWN: "알 수 없는 오류가 발생했습니다.",
  };

  // ---------------------------------------------------------------------------------------------
  // Errors: real Error instances with .code, .message (Korean) and the SDK's class names.

  class TossPaymentsError extends Error {
    constructor(code, message) {
      super(message);
      this.name = "TossPaymentsError";
      this.code = code;
    }
  }
  class UserCancelError extends TossPaymentsError {
    constructor(code, message) {
      super(code, message);
      this.name = "UserCancelError";
    }
  }
  class PaymentRequestAbortedError extends TossPaymentsError {
    constructor(code, message) {
      super(code, message);
      this.name = "PaymentRequestAbortedError";
    }
  }

  function sdkError(code, detail, message) {
    var text = typeof message === "string" && message !== "" ? message : MESSAGES[code] || MESSAGES.UNKNOWN;
    if (detail) text += " (" + detail + ")";
    if (code === "USER_CANCEL") return new UserCancelError(code, text);
    if (code === "PAYMENT_REQUEST_ABORTED") return new PaymentRequestAbortedError(code, text);
    return new TossPaymentsError(code, text);
  }

  function invalidParams(detail) {
    return sdkError("INVALID_PARAMETERS", detail);
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  function currentScriptSrc() {
    var current = document.currentScript;
    if (current && current.src) return current.src;
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/tosspayments-sandbox\.js(\?|#|$)/.test(scripts[i].src)) return scripts[i].src;
    }
    return "";
  }

  function isPlainObject(value) {
    if (value === null || typeof value !== "object") return false;
    if (Object.prototype.toString.call(value) !== "[object Object]") return false;
    var proto = Object.getPrototypeOf(value);
    return proto === null || proto === Object.prototype;
  }

  function jsonCopy(value) {
    try {
      var text = JSON.stringify(value);
      return text === undefined ? null : JSON.parse(text);
    } catch (e) {
      return null;
    }
  }

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function charCount(s) {
    return Array.from(s).length;
  }

  function isHttpUrl(value) {
    if (typeof value !== "string" || value === "") return false;
    var url;
    try {
      url = new URL(value);
    } catch (e) {
      return false;
    }
    return url.protocol === "http:" || url.protocol === "https:";
  }

  /** Appends params to url's query, keeping the existing query (and fragment) byte for byte. */
  function appendQuery(base, pairs) {
    var url = new URL(base);
    var extra = new URLSearchParams();
    pairs.forEach(function (pair) {
      extra.append(pair[0], pair[1]);
    });
    var own = url.search.length > 1 ? url.search.slice(1) + "&" : "";
    url.search = own + extra.toString();
    return url.href;
  }

  function isValidCustomerKey(value) {
    return typeof value === "string" && (CUSTOMER_KEY_RE.test(value) || value === ANONYMOUS);
  }

  function looksLikeSecretKey(value) {
    return value.indexOf("_sk_") !== -1 || value.indexOf("_gsk_") !== -1;
  }

  function pad2(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /** A future expiry as MMYY: this month, three years ahead. */
  function defaultExpiry() {
    var now = new Date();
    return pad2(now.getMonth() + 1) + pad2((now.getFullYear() + 3) % 100);
  }

  function digitsOnly(s) {
    return String(s).replace(/[\s-]/g, "");
  }

  /** MMYY from "MMYY" or "MM/YY"; null when malformed. */
  function normalizeExpiry(value) {
    if (typeof value !== "string") return null;
    var m = /^\s*(\d{2})\s*\/?\s*(\d{2})\s*$/.exec(value);
    if (!m) return null;
    var month = Number(m[1]);
    if (month < 1 || month > 12) return null;
    return m[1] + m[2];
  }

  /** Months from this month to MMYY's month (negative = expired). */
  function monthsUntil(mmyy) {
    var now = new Date();
    var month = Number(mmyy.slice(0, 2));
    var year = 2000 + Number(mmyy.slice(2, 4));
    return year * 12 + (month - 1) - (now.getFullYear() * 12 + now.getMonth());
  }

  /** {number, exp, owner} checked and normalized; throws TypeError when malformed. */
  function normalizeCard(card, defaultOwner) {
    var c = card == null ? {} : card;
    if (typeof c !== "object") throw new TypeError("[toss sandbox] card must be an object");
    var number = c.number == null ? DEFAULT_CARD_NUMBER : digitsOnly(c.number);
    if (!/^\d{12,19}$/.test(number)) {
      throw new TypeError("[toss sandbox] card.number must have 12 to 19 digits");
    }
    var exp = c.exp == null ? defaultExpiry() : normalizeExpiry(c.exp);
    if (!exp) throw new TypeError('[toss sandbox] card.exp must be "MMYY" or "MM/YY"');
    var owner = c.owner == null ? defaultOwner || "PERSONAL" : c.owner;
    if (CARD_TYPES.indexOf(owner) === -1) {
      throw new TypeError('[toss sandbox] card.owner must be "PERSONAL" or "CORPORATE"');
    }
    return { number: number, exp: exp, owner: owner };
  }

  // ---------------------------------------------------------------------------------------------
  // authKey: "sbx." + base64url-no-padding(UTF-8 JSON {ck, bin, last4, exp, owner, nonce})

  function utf8Encode(s) {
    if (typeof TextEncoder === "function") return new TextEncoder().encode(s);
    var bin = unescape(encodeURIComponent(s));
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function utf8Decode(bytes) {
    if (typeof TextDecoder === "function") return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return decodeURIComponent(escape(bin));
  }

  function base64UrlEncode(bytes) {
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function base64UrlDecode(text) {
    if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Error("not base64url");
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function randomHex(byteCount) {
    var bytes = new Uint8Array(byteCount);
    window.crypto.getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return hex;
  }

  function mintAuthKey(customerKey, card) {
    if (typeof customerKey !== "string" || !CUSTOMER_KEY_RE.test(customerKey)) {
      throw new TypeError("[toss sandbox] mintAuthKey: customerKey must be 2-50 of A-Z a-z 0-9 - _ = . @");
    }
    var c = normalizeCard(card, "PERSONAL");
    var json = JSON.stringify({
      ck: customerKey,
      bin: c.number.slice(0, 6),
      last4: c.number.slice(-4),
      exp: c.exp,
      owner: c.owner,
      nonce: randomHex(8),
    });
    var key = "sbx." + base64UrlEncode(utf8Encode(json));
    if (key.length > MAX_AUTH_KEY_LENGTH) throw new RangeError("[toss sandbox] authKey longer than 300");
    return key;
  }

  /** The JSON inside a sandbox authKey, or null when it is not one. */
  function decodeAuthKey(authKey) {
    if (typeof authKey !== "string" || authKey.slice(0, 4) !== "sbx.") return null;
    try {
      var value = JSON.parse(utf8Decode(base64UrlDecode(authKey.slice(4))));
      return isPlainObject(value) ? value : null;
    } catch (e) {
      return null;
    }
  }

  function successUrlFor(request, card) {
    var authKey = mintAuthKey(request.customerKey, card);
    return appendQuery(request.successUrl, [["customerKey", request.customerKey], ["authKey", authKey]]);
  }

  function failUrlFor(request, code, message) {
    var text = typeof message === "string" && message !== "" ? message : MESSAGES[code] || MESSAGES.UNKNOWN;
    return appendQuery(request.failUrl, [["code", code], ["message", text]]);
  }

  // ---------------------------------------------------------------------------------------------
  // Scripted outcomes

  var OUTCOME_TYPES = ["success", "fail", "cancel", "reject", "pending"];

  function normalizeOutcome(outcome) {
    if (!isPlainObject(outcome) || OUTCOME_TYPES.indexOf(outcome.type) === -1) {
      throw new TypeError("[toss sandbox] outcome.type must be one of " + OUTCOME_TYPES.join(", "));
    }
    var out = { type: outcome.type };
    if (outcome.type === "success" && outcome.card != null) {
      out.card = normalizeCard(outcome.card, outcome.card.owner == null ? null : outcome.card.owner);
      if (outcome.card.owner == null) delete out.card.owner; // decided later by selectableCardTypes
    }
    if (outcome.type === "fail" || outcome.type === "reject") {
      if (typeof outcome.code !== "string" || outcome.code === "") {
        throw new TypeError("[toss sandbox] a " + outcome.type + " outcome needs a code");
      }
      out.code = outcome.code;
      if (outcome.message != null) {
        if (typeof outcome.message !== "string") throw new TypeError("[toss sandbox] outcome.message must be a string");
        out.message = outcome.message;
      }
    }
    return out;
  }

  var nextOutcome = null;

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null;
    }
  }

  function setNextOutcome(outcome) {
    var store = storage();
    if (outcome == null) {
      nextOutcome = null;
      if (store) store.removeItem(OUTCOME_STORAGE_KEY);
      return;
    }
    nextOutcome = normalizeOutcome(outcome);
    if (store) {
      try {
        store.setItem(OUTCOME_STORAGE_KEY, JSON.stringify(nextOutcome));
      } catch (e) {
        /* storage full or disabled: the in-memory copy still works */
      }
    }
  }

  /** One-shot: the scripted outcome (memory first, then sessionStorage), cleared on read. */
  function takeOutcome() {
    var outcome = nextOutcome;
    nextOutcome = null;
    var store = storage();
    var stored = null;
    if (store) {
      try {
        stored = store.getItem(OUTCOME_STORAGE_KEY);
        store.removeItem(OUTCOME_STORAGE_KEY);
      } catch (e) {
        stored = null;
      }
    }
    if (outcome) return outcome;
    if (stored == null) return null;
    try {
      return normalizeOutcome(JSON.parse(stored));
    } catch (e) {
      if (window.console) console.warn("[toss sandbox] ignoring bad sessionStorage[" + OUTCOME_STORAGE_KEY + "]", e);
      return null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Environment

  function isMobile() {
    if (typeof sandbox.mobile === "boolean") return sandbox.mobile;
    var ua = (window.navigator && window.navigator.userAgent) || "";
    if (/Android|iPhone|iPad|iPod|Mobile|Mobi/i.test(ua)) return true;
    try {
      return !!(window.matchMedia && window.matchMedia("(pointer: coarse)").matches);
    } catch (e) {
      return false;
    }
  }

  function resolveAsset(name) {
    return new URL(name, sandbox.baseUrl || document.baseURI).href;
  }

  function ensureStylesheet(doc) {
    var d = doc || document;
    var href;
    try {
      href = resolveAsset("sandbox.css");
    } catch (e) {
      return;
    }
    var links = d.getElementsByTagName("link");
    for (var i = 0; i < links.length; i++) {
      if (links[i].href === href) return;
    }
    var link = d.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.setAttribute("data-tsbx-css", "");
    (d.head || d.documentElement).appendChild(link);
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers (createElement + textContent only; never innerHTML)

  var idCounter = 0;
  function uid(prefix) {
    idCounter += 1;
    return "tsbx-" + prefix + "-" + idCounter;
  }

  function el(doc, tag, attrs, children) {
    var node = doc.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value == null || value === false) return;
        if (name === "text") node.textContent = String(value);
        else if (name === "className") node.className = value;
        else if (name.slice(0, 2) === "on" && typeof value === "function") node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child == null || child === false) return;
      node.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
    });
    return node;
  }

  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (e) {
      return "";
    }
  }

  function sandboxHeader(doc, headingLevel, titleText, titleId, noticeId) {
    return el(doc, "header", { className: "tsbx-header" }, [
      el(doc, "p", { className: "tsbx-badge", text: "SANDBOX · 테스트 전용" }),
      el(doc, headingLevel, { className: "tsbx-title", id: titleId, text: titleText }),
      el(doc, "p", {
        className: "tsbx-notice",
        id: noticeId,
        text: "실제 토스페이먼츠 결제창이 아닙니다. 개발용 모의 결제창이며, 입력한 카드 정보는 어디에도 전송되지 않습니다.",
      }),
    ]);
  }

  var SAMPLE_IDENTITY = { PERSONAL: "900101", CORPORATE: "1234567890" };
  var OWNER_LABELS = { PERSONAL: "개인카드", CORPORATE: "법인카드" };
  var FAIL_BUTTONS = [
    { code: "PAY_PROCESS_CANCELED", label: "결제 취소" },
    { code: "PAY_PROCESS_ABORTED", label: "처리 중단" },
    { code: "REJECT_CARD_COMPANY", label: "카드사 거절" },
  ];

  /**
   * The card window body shared by the in-page overlay (iframe mode) and card-window.html
   * (self mode). request: {successUrl, failUrl, customerKey, selectableCardTypes?, customerName?,
   * flowMode?, easyPay?, cardCompany?}. handlers: onRegister(card), onCancel(), onFail(code).
   * Returns {root, titleId, noticeId, focusFirst(), setBusy(bool), isBusy()}.
   */
  function buildCardWindow(doc, request, handlers, options) {
    var opts = options || {};
    var types = Array.isArray(request.selectableCardTypes) && request.selectableCardTypes.length
      ? request.selectableCardTypes.slice()
      : CARD_TYPES.slice();
    var titleId = uid("title");
    var noticeId = uid("notice");
    var busy = false;
    var controls = [];

    function field(labelText, input, hintText) {
      var errorId = uid("err");
      var hintId = hintText ? uid("hint") : null;
      input.setAttribute("aria-describedby", (hintId ? hintId + " " : "") + errorId);
      var label = el(doc, "label", { className: "tsbx-label", for: input.id, text: labelText });
      var error = el(doc, "p", { className: "tsbx-field-error", id: errorId });
      var wrap = el(doc, "div", { className: "tsbx-field" }, [
        label,
        input,
        hintText ? el(doc, "p", { className: "tsbx-hint", id: hintId, text: hintText }) : null,
        error,
      ]);
      controls.push(input);
      return { wrap: wrap, input: input, label: label, error: error };
    }

    function textInput(name, value, extra) {
      var attrs = {
        id: uid(name),
        name: name,
        type: "text",
        className: "tsbx-input",
        autocomplete: "off",
        spellcheck: "false",
        inputmode: "numeric",
      };
      Object.keys(extra || {}).forEach(function (k) {
        attrs[k] = extra[k];
      });
      var input = el(doc, "input", attrs);
      input.value = value;
      return input;
    }

    function setError(f, message) {
      f.error.textContent = message || "";
      if (message) f.input.setAttribute("aria-invalid", "true");
      else f.input.removeAttribute("aria-invalid");
    }

    // Owner type radios, limited to selectableCardTypes, first preselected.
    var ownerName = uid("owner");
    var ownerRadios = types.map(function (type, index) {
      var radio = el(doc, "input", {
        type: "radio",
        name: ownerName,
        value: type,
        id: uid("owner-" + type.toLowerCase()),
        className: "tsbx-radio",
      });
      radio.checked = index === 0;
      controls.push(radio);
      return radio;
    });
    var ownerFieldset = el(doc, "fieldset", { className: "tsbx-fieldset" }, [
      el(doc, "legend", { className: "tsbx-label", text: "카드 종류" }),
      el(
        doc,
        "div",
        { className: "tsbx-radios" },
        ownerRadios.map(function (radio) {
          return el(doc, "label", { className: "tsbx-radio-label", for: radio.id }, [
            radio,
            el(doc, "span", { text: OWNER_LABELS[radio.value] }),
          ]);
        })
      ),
    ]);

    var now = new Date();
    var expDefault = pad2(now.getMonth() + 1) + "/" + pad2((now.getFullYear() + 3) % 100);
    var numberField = field(
      "카드 번호",
      textInput("cardNumber", "4330-1234-1234-1234", { maxlength: "23", placeholder: "0000-0000-0000-0000" }),
      "테스트 카드 4330-1234-1234-1234 (15~16자리 아무 번호나 됩니다)"
    );
    var expField = field("유효기간 (MM/YY)", textInput("cardExpiry", expDefault, { maxlength: "5", placeholder: "MM/YY" }));
    var idField = field("생년월일 6자리", textInput("ownerIdentity", SAMPLE_IDENTITY[types[0]], { maxlength: "12" }));
    var identityEdited = false;
    idField.input.addEventListener("input", function () {
      identityEdited = true;
    });

    function selectedOwner() {
      for (var i = 0; i < ownerRadios.length; i++) if (ownerRadios[i].checked) return ownerRadios[i].value;
      return types[0];
    }

    function syncIdentity() {
      var owner = selectedOwner();
      idField.label.textContent = owner === "CORPORATE" ? "사업자등록번호 10자리" : "생년월일 6자리 (YYMMDD)";
      idField.input.placeholder = owner === "CORPORATE" ? "0000000000" : "YYMMDD";
      if (!identityEdited) idField.input.value = SAMPLE_IDENTITY[owner];
      setError(idField, "");
    }
    ownerRadios.forEach(function (radio) {
      radio.addEventListener("change", syncIdentity);
    });
    syncIdentity();

    function validate() {
      var first = null;
      var number = digitsOnly(numberField.input.value);
      if (!/^\d{15,16}$/.test(number)) {
        setError(numberField, "카드 번호 15~16자리를 숫자로 입력해 주세요.");
        first = first || numberField.input;
      } else setError(numberField, "");
      var exp = normalizeExpiry(expField.input.value);
      if (!exp) {
        setError(expField, "유효기간을 MM/YY 형식으로 입력해 주세요.");
        first = first || expField.input;
      } else if (monthsUntil(exp) < 0) {
        setError(expField, "유효기간이 지난 카드입니다.");
        first = first || expField.input;
      } else if (monthsUntil(exp) > 12 * 20) {
        setError(expField, "유효기간을 다시 확인해 주세요.");
        first = first || expField.input;
      } else setError(expField, "");
      var owner = selectedOwner();
      var identity = digitsOnly(idField.input.value);
      if (owner === "CORPORATE") {
        if (!/^\d{10}$/.test(identity)) {
          setError(idField, "사업자등록번호 10자리를 숫자로 입력해 주세요.");
          first = first || idField.input;
        } else setError(idField, "");
      } else {
        var m = /^(\d{2})(\d{2})(\d{2})$/.exec(identity);
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 12 || Number(m[3]) < 1 || Number(m[3]) > 31) {
          setError(idField, "생년월일 6자리(YYMMDD)를 입력해 주세요.");
          first = first || idField.input;
        } else setError(idField, "");
      }
      if (first) {
        first.focus();
        return null;
      }
      return { number: number, exp: exp, owner: owner };
    }

    var registerButton = el(doc, "button", {
      type: "submit",
      className: "tsbx-button tsbx-primary",
      "data-tsbx-action": "register",
      text: "카드 등록",
    });
    var cancelButton = el(doc, "button", {
      type: "button",
      className: "tsbx-button tsbx-secondary",
      "data-tsbx-action": "cancel",
      text: "취소",
      onclick: function () {
        if (!busy) handlers.onCancel();
      },
    });
    controls.push(registerButton, cancelButton);

    var form = el(
      doc,
      "form",
      {
        className: "tsbx-form",
        novalidate: true,
        onsubmit: function (event) {
          event.preventDefault();
          if (busy) return;
          var card = validate();
          if (card) handlers.onRegister(card);
        },
      },
      [
        ownerFieldset,
        numberField.wrap,
        el(doc, "div", { className: "tsbx-row" }, [expField.wrap, idField.wrap]),
        el(doc, "div", { className: "tsbx-actions" }, [cancelButton, registerButton]),
      ]
    );

    var testHeadingId = uid("test");
    var failButtons = FAIL_BUTTONS.map(function (item) {
      var button = el(
        doc,
        "button",
        {
          type: "button",
          className: "tsbx-button tsbx-test-button",
          "data-tsbx-action": "fail:" + item.code,
          onclick: function () {
            if (!busy) handlers.onFail(item.code);
          },
        },
        [el(doc, "span", { text: item.label }), el(doc, "code", { text: item.code })]
      );
      controls.push(button);
      return button;
    });
    var testArea = el(doc, "section", { className: "tsbx-test", "aria-labelledby": testHeadingId }, [
      // One level under the window's own title (h1 on its own page, h2 in the overlay).
      el(doc, (opts.headingLevel || "h2") === "h1" ? "h2" : "h3",
        { className: "tsbx-test-title", id: testHeadingId, text: "테스트 결과 선택" }),
      el(doc, "p", { className: "tsbx-hint", text: "실패 상황을 흉내 내 failUrl로 이동합니다." }),
      el(doc, "div", { className: "tsbx-test-buttons" }, failButtons),
    ]);

    var meta = [];
    if (typeof request.customerName === "string" && request.customerName !== "") {
      meta.push(el(doc, "p", { className: "tsbx-meta" }, ["고객: ", el(doc, "strong", { text: request.customerName })]));
    }
    if (request.flowMode === "DIRECT") {
      var direct = request.easyPay ? "간편결제 " + request.easyPay : request.cardCompany ? "카드사 " + request.cardCompany : "";
      meta.push(el(doc, "p", { className: "tsbx-meta", text: "바로 열기(DIRECT)" + (direct ? ": " + direct : "") }));
    }
    var destination = originOf(request.successUrl);
    var footer = el(doc, "p", { className: "tsbx-footer" }, [
      "등록 후 이동할 곳: ",
      el(doc, "span", { className: "tsbx-origin", text: destination || "(알 수 없음)" }),
    ]);

    var root = el(doc, opts.rootTag || "section", { className: "tsbx-window" }, [
      sandboxHeader(doc, opts.headingLevel || "h2", "카드 등록", titleId, noticeId),
      el(doc, "div", { className: "tsbx-body" }, meta.concat([form, testArea, footer])),
    ]);

    return {
      root: root,
      titleId: titleId,
      noticeId: noticeId,
      focusFirst: function () {
        numberField.input.focus();
      },
      setBusy: function (value) {
        busy = !!value;
        controls.forEach(function (c) {
          c.disabled = busy;
        });
        registerButton.textContent = busy ? "이동 중…" : "카드 등록";
        root.setAttribute("aria-busy", busy ? "true" : "false");
      },
      isBusy: function () {
        return busy;
      },
    };
  }

  /** A full "cannot open" panel (card-window.html with a bad hash). */
  function buildErrorPanel(doc, title, detail) {
    var titleId = uid("title");
    return el(doc, "section", { className: "tsbx-window tsbx-error-window", role: "alert" }, [
      sandboxHeader(doc, "h1", title, titleId, uid("notice")),
      el(doc, "div", { className: "tsbx-body" }, [el(doc, "p", { className: "tsbx-error-text", text: detail })]),
    ]);
  }

  // ---------------------------------------------------------------------------------------------
  // The in-page overlay (windowTarget "iframe")

  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function openOverlay(req) {
    var doc = document;
    ensureStylesheet(doc);
    var previous = doc.activeElement;
    var ui;
    var handlers = {
      onRegister: function (card) {
        ui.setBusy(true);
        finish(req);
        doNavigate(successUrlFor(req.request, card));
      },
      onCancel: function () {
        finish(req);
        req.reject(sdkError("USER_CANCEL"));
      },
      onFail: function (code) {
        ui.setBusy(true);
        finish(req);
        doNavigate(failUrlFor(req.request, code));
      },
    };
    ui = buildCardWindow(doc, req.request, handlers, { headingLevel: "h2" });

    var dialog = ui.root;
    dialog.classList.add("tsbx-dialog");
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-labelledby", ui.titleId);
    dialog.setAttribute("aria-describedby", ui.noticeId);
    dialog.setAttribute("tabindex", "-1");

    var backdrop = el(doc, "div", { className: "tsbx-root tsbx-backdrop", "data-tsbx-overlay": "" }, [dialog]);
    // Enough layout through CSSOM that the overlay works even if sandbox.css fails to load.
    var s = backdrop.style;
    s.position = "fixed";
    s.top = s.right = s.bottom = s.left = "0";
    s.zIndex = "2147483000";
    s.display = "flex";
    s.alignItems = "center";
    s.justifyContent = "center";
    s.overflow = "auto";

    function onKeyDown(event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        event.stopPropagation();
        if (!ui.isBusy()) handlers.onCancel();
        return;
      }
      if (event.key !== "Tab") return;
      var items = Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (node) {
        return node.offsetParent !== null || node === doc.activeElement;
      });
      if (!items.length) {
        event.preventDefault();
        dialog.focus();
        return;
      }
      var first = items[0];
      var last = items[items.length - 1];
      if (event.shiftKey && (doc.activeElement === first || doc.activeElement === dialog)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && doc.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
    function onFocusIn(event) {
      if (!backdrop.contains(event.target)) ui.focusFirst();
    }
    backdrop.addEventListener("keydown", onKeyDown);
    doc.addEventListener("focusin", onFocusIn, true);

    var root = doc.documentElement;
    var savedOverflow = root.style.overflow;
    root.style.overflow = "hidden";
    (doc.body || root).appendChild(backdrop);
    ui.focusFirst();
    if (doc.activeElement !== ui.root && !dialog.contains(doc.activeElement)) dialog.focus();

    req.overlay = {
      element: backdrop,
      close: function () {
        doc.removeEventListener("focusin", onFocusIn, true);
        backdrop.removeEventListener("keydown", onKeyDown);
        if (backdrop.parentNode) backdrop.parentNode.removeChild(backdrop);
        root.style.overflow = savedOverflow;
        if (previous && previous !== doc.body && typeof previous.focus === "function" && doc.contains(previous)) {
          try {
            previous.focus();
          } catch (e) {
            /* ignore */
          }
        }
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  var openRequest = null; // at most one per page, whatever payment object opened it

  function finish(req) {
    if (openRequest === req) openRequest = null;
    if (req.timer !== null) {
      clearTimeout(req.timer);
      req.timer = null;
    }
    if (req.overlay) {
      var overlay = req.overlay;
      req.overlay = null;
      overlay.close();
    }
  }

  function doNavigate(url) {
    sandbox.navigations.push(url);
    sandbox.navigate(url);
  }

  function cardWindowUrl(request) {
    var payload = {
      v: 1,
      successUrl: request.successUrl,
      failUrl: request.failUrl,
      customerKey: request.customerKey,
      selectableCardTypes: request.selectableCardTypes,
    };
    if (request.customerName !== undefined) payload.customerName = request.customerName;
    var url = new URL(resolveAsset("card-window.html"));
    url.hash = "";
    return url.href + "#" + encodeURIComponent(JSON.stringify(payload));
  }

  function runOutcome(req, outcome) {
    req.timer = null;
    if (openRequest !== req) return;
    finish(req);
    switch (outcome.type) {
      case "success": {
        var card = outcome.card || {};
        var owner = card.owner || req.request.selectableCardTypes[0];
        doNavigate(successUrlFor(req.request, { number: card.number, exp: card.exp, owner: owner }));
        break;
      }
      case "fail":
        doNavigate(failUrlFor(req.request, outcome.code, outcome.message));
        break;
      case "cancel":
        req.reject(sdkError("USER_CANCEL"));
        break;
      case "reject":
        req.reject(sdkError(outcome.code, null, outcome.message));
        break;
      default:
        break;
    }
  }

  /** Returns an Error to reject with, or the normalized request. Order matters: see README. */
  function validateRequest(ctx, params) {
    if (openRequest) return sdkError("INVALID_METHOD_TRANSACTION");
    if (/^(test|live)_ck_NoBilling/.test(ctx.clientKey)) return sdkError("NOT_SUPPORTED_METHOD");
    if (!isPlainObject(params)) return invalidParams("파라미터는 객체여야 합니다");
    var keys = Object.keys(params);
    for (var i = 0; i < keys.length; i++) {
      if (PARAM_KEYS.indexOf(keys[i]) === -1) return invalidParams("알 수 없는 파라미터 " + keys[i]);
      if (params[keys[i]] === undefined || params[keys[i]] === null) {
        return invalidParams(keys[i] + "에 값이 없습니다 (생략하거나 올바른 값을 넣으세요)");
      }
    }
    if (params.method === "TRANSFER") {
      return sdkError("NOT_SUPPORTED_METHOD", "샌드박스는 계좌(TRANSFER) 자동결제를 지원하지 않습니다");
    }
    if (params.method !== "CARD") return invalidParams('method는 "CARD"여야 합니다');
    if (typeof params.successUrl !== "string") return invalidParams("successUrl은 필수 문자열입니다");
    if (typeof params.failUrl !== "string") return invalidParams("failUrl은 필수 문자열입니다");
    if (!isHttpUrl(params.successUrl)) return sdkError("INCORRECT_SUCCESS_URL_FORMAT");
    if (!isHttpUrl(params.failUrl)) return sdkError("INCORRECT_FAIL_URL_FORMAT");

    var names = ["customerName", "customerEmail"];
    for (var n = 0; n < names.length; n++) {
      if (has(params, names[n]) && (typeof params[names[n]] !== "string" || charCount(params[names[n]]) > 100)) {
        return invalidParams(names[n] + "은 100자 이하의 문자열이어야 합니다");
      }
    }
    var mobile = isMobile();
    var windowTarget = mobile ? "self" : "iframe";
    if (has(params, "windowTarget")) {
      if (params.windowTarget !== "iframe" && params.windowTarget !== "self") {
        return invalidParams('windowTarget은 "iframe" 또는 "self"여야 합니다');
      }
      if (params.windowTarget === "iframe" && mobile) {
        return invalidParams('모바일에서는 windowTarget "iframe"을 쓸 수 없습니다');
      }
      windowTarget = params.windowTarget;
    }
    var cardTypes = CARD_TYPES.slice();
    if (has(params, "selectableCardTypes")) {
      var t = params.selectableCardTypes;
      var ok = Array.isArray(t) && t.length > 0 && t.every(function (x, idx) {
        return CARD_TYPES.indexOf(x) !== -1 && t.indexOf(x) === idx;
      });
      if (!ok) return invalidParams('selectableCardTypes는 "PERSONAL", "CORPORATE"로 이루어진 중복 없는 배열이어야 합니다');
      cardTypes = t.slice();
    }
    var flowMode = "DEFAULT";
    if (has(params, "flowMode")) {
      if (params.flowMode !== "DEFAULT" && params.flowMode !== "DIRECT") {
        return invalidParams('flowMode는 "DEFAULT" 또는 "DIRECT"여야 합니다');
      }
      flowMode = params.flowMode;
    }
    if (has(params, "easyPay")) {
      if (flowMode !== "DIRECT") return invalidParams('easyPay는 flowMode "DIRECT"에서만 쓸 수 있습니다');
      if (params.easyPay !== "TOSSPAY" && params.easyPay !== "NAVERPAY") {
        return invalidParams('easyPay는 "TOSSPAY" 또는 "NAVERPAY"여야 합니다');
      }
    }
    if (has(params, "cardCompany")) {
      if (flowMode !== "DIRECT") return invalidParams('cardCompany는 flowMode "DIRECT"에서만 쓸 수 있습니다');
      if (typeof params.cardCompany !== "string" || params.cardCompany === "") {
        return invalidParams("cardCompany는 비어 있지 않은 문자열이어야 합니다");
      }
    }
    if (ctx.customerKey === ANONYMOUS) {
      return sdkError("INVALID_CUSTOMER_KEY", "자동결제에는 ANONYMOUS가 아닌 고객 키가 필요합니다");
    }
    return {
      successUrl: params.successUrl,
      failUrl: params.failUrl,
      customerKey: ctx.customerKey,
      customerName: params.customerName,
      customerEmail: params.customerEmail,
      windowTarget: windowTarget,
      selectableCardTypes: cardTypes,
      flowMode: flowMode,
      easyPay: params.easyPay,
      cardCompany: params.cardCompany,
    };
  }

  function requestBillingAuth(ctx, params) {
    try {
      var isObject = params !== null && typeof params === "object";
      sandbox.calls.push({
        clientKey: ctx.clientKey,
        customerKey: ctx.customerKey,
        keys: isObject ? Object.keys(params) : null,
        params: jsonCopy(params),
        at: performance.now(),
      });
    } catch (e) {
      /* recording must never break the request */
    }
    return new Promise(function (resolve, reject) {
      var result = validateRequest(ctx, params);
      if (result instanceof Error) {
        reject(result);
        return;
      }
      var req = { ctx: ctx, request: result, reject: reject, timer: null, overlay: null };
      openRequest = req;
      var outcome = takeOutcome();
      if (outcome) {
        if (outcome.type !== "pending") {
          req.timer = setTimeout(function () {
            runOutcome(req, outcome);
          }, 0);
        }
        return;
      }
      if (result.windowTarget === "self") {
        req.timer = setTimeout(function () {
          req.timer = null;
          if (openRequest !== req) return;
          finish(req);
          doNavigate(cardWindowUrl(result));
        }, 0);
        return;
      }
      openOverlay(req);
    });
  }

  function destroy(ctx) {
    if (openRequest && openRequest.ctx === ctx) {
      var req = openRequest;
      finish(req);
      req.reject(sdkError("PAYMENT_REQUEST_ABORTED"));
      return;
    }
    throw sdkError("UNKNOWN", null, "진행 중인 결제 요청이 없어 destroy()할 것이 없습니다.");
  }

  // ---------------------------------------------------------------------------------------------
  // Public surface

  function TossPayments(clientKey) {
    if (typeof clientKey !== "string" || clientKey === "") {
      throw sdkError("INVALID_CLIENT_KEY", "clientKey는 비어 있지 않은 문자열이어야 합니다");
    }
    if (/^(test|live)_g?sk_/.test(clientKey)) throw sdkError("INSECURE_KEY_USAGE");
    var widgetKey = /^(test|live)_gck_./.test(clientKey);
    if (!widgetKey && !/^(test|live)_ck_./.test(clientKey)) throw sdkError("INVALID_CLIENT_KEY");

    return {
      payment: function payment(options) {
        if (widgetKey) throw sdkError("NOT_SUPPORTED_WIDGET_KEY");
        var customerKey = options !== null && typeof options === "object" ? options.customerKey : undefined;
        if (typeof customerKey === "string" && looksLikeSecretKey(customerKey)) {
          throw sdkError("INSECURE_KEY_USAGE", "customerKey에 시크릿 키를 넣지 마세요");
        }
        if (!isValidCustomerKey(customerKey)) throw sdkError("INVALID_CUSTOMER_KEY");
        var ctx = { clientKey: clientKey, customerKey: customerKey };
        return {
          requestBillingAuth: function (params) {
            return requestBillingAuth(ctx, params);
          },
          destroy: function () {
            destroy(ctx);
          },
        };
      },
    };
  }

  function reset() {
    sandbox.calls.length = 0;
    sandbox.navigations.length = 0;
    setNextOutcome(null);
    if (openRequest) finish(openRequest);
    openRequest = null;
  }

  var sandbox = {
    /** Every requestBillingAuth call: {clientKey, customerKey, keys, params, at}. */
    calls: [],
    /** Every URL the sandbox navigated to (strings), in order. */
    navigations: [],
    /** true/false forces mobile/desktop; anything else = guess from UA and (pointer: coarse). */
    mobile: undefined,
    /** Where sandbox.css and card-window.html are resolved from (default: this script's URL). */
    baseUrl: currentScriptSrc(),
    /** Replace to record instead of leaving the page. */
    navigate: function (url) {
      window.location.assign(url);
    },
    setNextOutcome: setNextOutcome,
    reset: reset,
    isValidCustomerKey: isValidCustomerKey,
    mintAuthKey: mintAuthKey,
    decodeAuthKey: decodeAuthKey,
    /** Is a requestBillingAuth of this page still open? */
    isOpen: function () {
      return openRequest !== null;
    },
    /** Internal: shared with card-window.js. Not part of the SDK surface. */
    ui: {
      ensureStylesheet: ensureStylesheet,
      buildCardWindow: buildCardWindow,
      buildErrorPanel: buildErrorPanel,
      successUrlFor: successUrlFor,
      failUrlFor: failUrlFor,
      isHttpUrl: isHttpUrl,
      charCount: charCount,
      cardTypes: CARD_TYPES.slice(),
      messages: MESSAGES,
    },
  };

  TossPayments.ANONYMOUS = ANONYMOUS;
  Object.defineProperty(TossPayments, "__sandbox", { value: sandbox, enumerable: false });
  window.TossPayments = TossPayments;

  if (document.head) ensureStylesheet(document);
})();
