//! Everything the customer reads, in Korean and English, and the mapping from error codes to it.
//! Our own copy per code: Toss's and the backend's messages are never trusted as page text.

use super::redirect::{clean_text, FailCode, RedirectError};
use super::sdk_error::SdkError;

/// The language of the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// 한국어 (default).
    #[default]
    Ko,
    /// English.
    En,
}

impl Locale {
    /// BCP 47 tag for `lang` attributes.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Ko => "ko",
            Self::En => "en",
        }
    }
}

/// A piece of customer-facing copy, in both languages. Each piece is a constant rather than an
/// enum variant, so a bundle carries only the copy its pages use: the registration page's wasm
/// has none of the success and fail pages' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    ko: &'static str,
    en: &'static str,
}

impl Text {
    /// The copy in `locale`.
    pub fn get(self, locale: Locale) -> &'static str {
        match locale {
            Locale::Ko => self.ko,
            Locale::En => self.en,
        }
    }
}

macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident => $ko:literal, $en:literal;)*) => {
        // CamelCase, as the enum variants they were: `Text::RegisterTitle` reads as a name.
        #[allow(non_upper_case_globals)]
        impl Text {
            $(
                $(#[$doc])*
                #[doc = concat!("\n\nko: ", $ko, "\n\nen: ", $en)]
                pub const $name: Text = Text { ko: $ko, en: $en };
            )*
        }
    };
}

texts! {
    RegisterTitle => "결제 카드 등록", "Register a payment card";
    RegisterLead => "정기결제에 사용할 카드를 등록해 주세요. 카드 정보는 토스페이먼츠에 안전하게 보관돼요.",
        "Register the card for your recurring payments. Toss Payments keeps the card details safe.";
    RegisterButton => "카드 등록하기", "Register card";
    PlanName => "플랜", "Plan";
    PlanPrice => "요금", "Price";
    PlanBilled => "결제 주기", "Billed";
    PlanFirstCharge => "첫 결제", "First charge";
    PlanCancel => "해지", "Cancelling";
    /// `\u{1}`: the amount, digits grouped.
    PlanAmount => "\u{1}원", "₩\u{1}";
    PlanMonthly => "매월", "monthly";
    PlanYearly => "매년", "yearly";
    PlanDaily => "매일", "every day";
    /// `\u{1}`: the number of days.
    PlanEveryDays => "\u{1}일마다", "every \u{1} days";
    /// `\u{1}` year, `\u{2}` month, `\u{3}` day, `\u{4}` the month's English name.
    PlanDate => "\u{1}년 \u{2}월 \u{3}일", "\u{3} \u{4} \u{1}";
    /// billing-server charges the first period when the card is registered.
    PlanFirstChargeNow => "카드 등록 즉시", "when you register";
    PlanCancelNote => "언제든 해지할 수 있어요. 해지하면 다음 결제일부터 결제되지 않아요.",
        "Cancel any time; nothing is charged after you cancel.";
    LoadingSdk => "결제 모듈을 불러오는 중…", "Loading the payment module…";
    OpeningWindow => "카드 등록 창을 여는 중…", "Opening the card window…";
    Redirecting => "카드 등록 창으로 이동하고 있어요…", "Taking you to the card window…";
    Cancelled => "카드 등록을 취소했어요. 언제든 다시 시도할 수 있어요.", "Card registration was cancelled. You can try again any time.";
    TryAgain => "다시 시도하기", "Try again";
    LoadFailed => "결제 모듈을 불러오지 못했어요. 네트워크 연결을 확인한 뒤 다시 시도해 주세요.",
        "The payment module could not be loaded. Check your connection and try again.";
    CustomerUnavailable => "고객 정보를 불러오지 못했어요. 잠시 후 다시 시도해 주세요.",
        "Your customer details could not be loaded. Please try again shortly.";
    NoBillingContract => "이 상점은 아직 토스페이먼츠 카드 자동결제 계약이 없어 카드를 등록할 수 없어요. 상점에 문의해 주세요.",
        "This store has no card auto-payment contract with Toss Payments yet, so no card can be registered. Please contact the store.";
    IntegrationError => "상점의 결제 설정에 문제가 있어 카드를 등록할 수 없어요. 상점에 문의해 주세요.",
        "The store's payment setup has a problem, so no card can be registered. Please contact the store.";
    WindowFailed => "카드 등록 창을 열지 못했어요. 잠시 후 다시 시도해 주세요.",
        "The card window could not be opened. Please try again shortly.";
    StorageBlocked => "이 브라우저 설정에서는 카드 등록 정보를 잠시 보관할 수 없어 진행할 수 없어요. 사생활 보호 모드를 끄거나 다른 브라우저에서 시도해 주세요.",
        "This browser's settings do not let the page keep the registration for a moment. Turn off private mode or try another browser.";
    DeveloperDetail => "개발자용 정보", "Details for developers";
    SuccessChecking => "카드 등록을 확인하고 있어요…", "Confirming your card…";
    SuccessRetrying => "연결이 불안정해 다시 확인하고 있어요…", "The connection is unstable; trying again…";
    SuccessPending => "카드 등록을 마무리하고 있어요. 잠시만 기다려 주세요…", "Finishing the registration; one moment…";
    SuccessDone => "카드가 등록되었어요", "Your card is registered";
    Continue => "계속하기", "Continue";
    SuccessDoneLead => "다음 결제일부터 이 카드로 자동 결제돼요.", "Your recurring payments will be charged to this card.";
    SuccessFailedTitle => "카드를 등록하지 못했어요", "The card could not be registered";
    SuccessUnconfirmedTitle => "카드 등록을 확인하지 못했어요", "We could not confirm your card";
    SuccessStillConfirmingTitle => "아직 확인 중이에요", "Still confirming your card";
    SuccessStillConfirming => "카드 등록을 확인하는 데 시간이 걸리고 있어요. 등록 정보는 이 창에 보관되어 있으니 잠시 후 다시 확인해 주세요.",
        "Confirming your card is taking a while. Its details are kept in this window: please check again in a moment.";
    SuccessUnconfirmed => "카드 등록 결과를 확인하지 못했어요. 등록 정보는 이 창에 보관되어 있으니 다시 확인해 주세요.",
        "We could not confirm the registration. Its details are kept in this window: please check again.";
    SuccessInterrupted => "이전 확인이 중간에 끊겼어요. 같은 정보로 다시 확인할 수 있어요.",
        "The previous confirmation was interrupted. You can check again with the same details.";
    CheckAgain => "다시 확인하기", "Check again";
    SuccessActiveTitle => "구독이 시작되었어요", "Your subscription has started";
    /// `\u{1}`: the amount paid.
    SuccessActiveLead => "첫 결제 \u{1}이 완료되었어요. 등록한 카드로 다음 결제일부터 자동 결제돼요.",
        "Your first payment of \u{1} went through. Later payments are charged to this card on their dates.";
    SuccessPaidOn => "결제일", "Paid on";
    SuccessPaid => "결제 금액", "Paid";
    SuccessReceipt => "영수증 보기", "View receipt";
    SuccessTrialTitle => "무료 체험이 시작되었어요", "Your free trial has started";
    SuccessTrialLead => "오늘은 결제되지 않아요. 체험이 끝나기 전에 유료 전환에 동의하시는지 다시 여쭤보고, 동의하지 않으면 결제되지 않아요.",
        "Nothing is charged today. Before the trial ends we ask whether you want to continue; without your agreement nothing is charged.";
    SuccessTrialPrice => "체험 후 요금", "Price after the trial";
    SuccessIncompleteTitle => "카드는 등록됐지만 첫 결제가 되지 않았어요", "Your card was registered, but the first payment failed";
    SuccessIncompleteNothing => "구독은 시작되지 않았고, 결제된 금액은 없어요.", "Your subscription has not started and nothing was charged.";
    SuccessIncompleteSoft => "한도 초과나 잔액 부족처럼 일시적인 이유로 승인되지 않았어요. 잠시 후 다시 시도하거나 다른 카드로 등록해 주세요.",
        "The card company declined it for a passing reason, such as a limit or the balance. Try again later or register another card.";
    SuccessIncompleteHard => "이 카드로는 결제할 수 없어요(정지·분실·만료된 카드 등). 다른 카드로 등록해 주세요.",
        "This card cannot be charged (stopped, lost or expired, for example). Please register another card.";
    SuccessRetryUntil => "다시 등록할 수 있는 기한", "Register another card by";
    SuccessAnotherCard => "다른 카드로 등록하기", "Register another card";
    SuccessCardChangedTitle => "결제 카드가 바뀌었어요", "Your payment card is changed";
    SuccessCardChangedLead => "다음 결제부터 이 카드로 결제돼요.", "Your next payments are charged to this card.";
    SuccessCardChangedDeclined => "카드는 등록됐지만 이 카드로도 밀린 결제가 승인되지 않았어요. 다른 카드를 등록해 주세요.",
        "The card is registered, but the overdue payment was declined on it too. Please register another card.";
    SuccessCardChangedInactive => "카드는 등록됐지만 진행 중인 구독이 없어 결제되지 않아요.",
        "The card is registered, but you have no running subscription, so nothing is charged.";
    SuccessNotStartedTitle => "카드는 등록됐지만 구독은 시작되지 않았어요", "Your card is registered, but no subscription started";
    SuccessNotStartedTrialUsed => "무료 체험은 한 번만 이용할 수 있어요. 결제된 금액은 없어요.",
        "The free trial can be used only once. Nothing was charged.";
    SuccessNotStartedGeneric => "이 결제 화면으로는 이미 구독을 시작했어요. 결제된 금액은 없어요. 구독 관리에서 확인해 주세요.",
        "A subscription was already started from this checkout. Nothing was charged; see your subscription.";
    BadLinkTitle => "이 주소로는 카드를 등록할 수 없어요", "This address cannot register a card";
    BadLinkNotStarted => "이 창에서 시작한 카드 등록이 없어요. 카드 등록을 처음부터 다시 진행해 주세요.",
        "No card registration was started in this window. Please start the registration again.";
    BadLinkMismatch => "카드 등록 정보가 이 창에서 시작한 등록과 일치하지 않아요. 처음부터 다시 진행해 주세요.",
        "The registration details do not match the one started in this window. Please start again.";
    BadLinkMalformed => "주소의 카드 등록 정보가 올바르지 않아요. 처음부터 다시 진행해 주세요.",
        "The registration details in the address are not valid. Please start again.";
    BackToRegister => "카드 등록 화면으로", "Back to card registration";
    CardCompany => "카드사", "Card company";
    CardNumber => "카드 번호", "Card number";
    CardKind => "카드 종류", "Card type";
    BackendCustomerMismatch => "로그인한 계정과 카드 등록 정보가 일치하지 않아요. 다시 로그인한 뒤 등록해 주세요.",
        "The registration does not belong to the signed-in account. Please sign in again and retry.";
    BackendInvalidCardNumber => "카드 번호가 올바르지 않아요. 확인한 뒤 다시 등록해 주세요.",
        "The card number is not valid. Please check it and register again.";
    BackendInvalidExpiration => "카드 유효기간이 올바르지 않거나 지났어요. 다른 카드로 등록해 주세요.",
        "The card's expiry date is wrong or has passed. Please use another card.";
    BackendStoppedCard => "사용이 정지된 카드예요. 다른 카드로 등록해 주세요.", "This card has been stopped. Please use another card.";
    BackendRejectCardCompany => "카드사에서 등록을 거절했어요. 다른 카드로 등록하거나 카드사에 문의해 주세요.",
        "The card company declined the registration. Please use another card or contact your card company.";
    BackendTooManyAttempts => "카드 인증 횟수를 초과했어요. 잠시 후 다시 시도해 주세요.",
        "Too many card verification attempts. Please try again later.";
    BackendUnavailable => "결제사와 연결이 원활하지 않아요. 잠시 후 다시 확인해 주세요.",
        "The payment provider cannot be reached right now. Please check again shortly.";
    BackendGeneric => "카드를 등록하지 못했어요. 문제가 계속되면 아래 오류 코드와 함께 문의해 주세요.",
        "The card could not be registered. If this keeps happening, contact us with the error code below.";
    /// The fail page before it has read the address (hydration: the server cannot know the code).
    FailChecking => "카드 등록 결과를 확인하고 있어요…", "Checking the registration result…";
    FailTitle => "카드 등록에 실패했어요", "Card registration failed";
    FailCancelledTitle => "카드 등록을 취소했어요", "Card registration cancelled";
    FailCanceled => "카드 등록을 취소하셨어요. 언제든 다시 등록할 수 있어요.", "You cancelled the card registration. You can register any time.";
    FailAborted => "카드 등록 중 문제가 생겨 진행하지 못했어요. 잠시 후 다시 시도해 주세요.",
        "Something went wrong during the registration. Please try again shortly.";
    FailRejectCardCompany => "카드사에서 카드 정보를 거절했어요. 카드 번호와 유효기간을 확인하거나 다른 카드로 시도해 주세요.",
        "The card company declined the card. Check the number and expiry date, or try another card.";
    FailGeneric => "카드 등록 중 오류가 발생했어요. 문제가 계속되면 아래 오류 코드와 함께 문의해 주세요.",
        "An error occurred during card registration. If it keeps happening, contact us with the error code below.";
    ErrorCode => "오류 코드", "Error code";
    ProviderMessage => "결제사 안내", "Message from the payment provider";
    ConfigErrorTitle => "카드 등록을 준비하지 못했어요", "Card registration is not available";
    // The subscription portal (src/portal.rs).
    PortalTitle => "구독 관리", "Your subscription";
    PortalLoading => "구독 정보를 불러오는 중…", "Loading your subscription…";
    PortalLoadFailed => "구독 정보를 불러오지 못했어요. 잠시 후 다시 시도해 주세요.",
        "Your subscription could not be loaded. Please try again shortly.";
    PortalNone => "구독 중인 플랜이 없어요.", "You have no subscription.";
    PortalNotSignedIn => "누구신지 확인할 수 없어 구독을 보여 드릴 수 없어요. 로그인하거나, 구독한 브라우저에서 이 페이지를 다시 열어 주세요. 그래도 보이지 않으면 상점에 문의해 주세요.",
        "We can't tell who you are, so your subscription can't be shown. Sign in, or open this page in the browser you subscribed with. If it still doesn't show, contact the shop.";
    PortalSubscribe => "구독하기", "Subscribe";
    PortalStatus => "상태", "Status";
    PortalStatusTrialing => "무료 체험 중", "Free trial";
    PortalStatusIncomplete => "첫 결제 실패", "First payment failed";
    PortalStatusActive => "이용 중", "Active";
    PortalStatusPastDue => "결제 실패 · 재시도 중", "Payment failed · retrying";
    PortalStatusCanceled => "해지됨", "Ended";
    PortalStatusUnpaid => "미납 · 결제 중단", "Unpaid · no longer charged";
    PortalStatusEnding => "해지 예정", "Ending";
    PortalPrice => "요금", "Price";
    PortalNextCharge => "다음 결제", "Next payment";
    PortalNoNextCharge => "없음", "None";
    PortalEndsOn => "이용 종료일", "Ends on";
    PortalTrialEnds => "무료 체험 종료", "Trial ends";
    PortalCard => "결제 카드", "Card";
    PortalNoCard => "등록된 카드가 없어요", "No card on file";
    PortalChangeCard => "카드 변경", "Change card";
    PortalRemoveCard => "카드 삭제", "Remove card";
    PortalRemoveCardLead => "진행 중인 구독이 없어 카드를 삭제할 수 있어요. 삭제하면 다시는 결제되지 않아요.",
        "Nothing is live, so the card can be removed. It will never be charged again.";
    PortalChangeTitle => "변경 안내", "A change to your subscription";
    PortalChangeDate => "변경일", "From";
    PortalChangeBefore => "현재 가격", "Price now";
    PortalChangeAfter => "변경 후 가격", "New price";
    PortalChangeMethod => "결제 수단", "Payment method";
    PortalChangeHowToCancel => "해지 방법", "How to cancel";
    PortalChangeIfDeclined => "동의하지 않으면", "If you decline";
    PortalChangeAsk => "아래 내용으로 결제해도 될까요? 동의하지 않으면 결제되지 않아요.",
        "May we charge you on these terms? Nothing is charged without your agreement.";
    PortalAccept => "동의", "Agree";
    PortalDecline => "거부", "Decline";
    PortalAccepted => "동의하셨어요. 변경일 전까지 언제든 거부로 바꿀 수 있어요.",
        "You agreed. You can change to decline until the change date.";
    PortalDeclined => "거부하셨어요. 변경일 전까지 언제든 동의로 바꿀 수 있어요.",
        "You declined. You can change to agree until the change date.";
    PortalChangeNoAnswer => "요금이 오르지 않는 변경이라 따로 답하지 않아도 돼요.", "The price does not rise, so no answer is needed.";
    PortalNoRefund => "환불 없음", "No refund";
    PortalChangeLater => "이 변경은 동의 기간이 되면 다시 안내해 드려요.",
        "We will ask for your answer when its consent period opens.";
    PortalSwitchTitle => "플랜 변경", "Change plan";
    PortalSwitchTo => "이 플랜으로 변경", "Switch to this plan";
    PortalSwitchNow => "지금 결제", "Charged now";
    PortalSwitchFrom => "적용일", "Takes effect";
    PortalSwitchConfirm => "변경하기", "Switch";
    PortalCancelTitle => "구독 해지", "Cancel your subscription";
    PortalCancelAtEnd => "일반해지", "Cancel at the period's end";
    PortalCancelAtEndLead => "이미 결제한 기간이 끝날 때까지 이용하고, 그 뒤로는 결제되지 않아요. 환불은 없어요.",
        "Keep using it until the paid period ends; nothing is charged after that. No refund.";
    PortalCancelNow => "중도해지", "Cancel now";
    PortalCancelNowLead => "지금 해지하고, 남은 기간만큼 일할 계산해 환불해 드려요.",
        "End it now; the unused days are refunded pro rata.";
    PortalWithdraw => "청약철회", "Withdraw";
    PortalWithdrawLead => "결제일로부터 기간 안이라 이번 결제를 취소하고 전액 환불해 드려요.",
        "Within the withdrawal period: this payment is cancelled and refunded in full.";
    /// `\u{1}`: the amount.
    PortalRefund => "\u{1}원 환불", "₩\u{1} refunded";
    PortalUntil => "신청 가능 기한", "Open until";
    PortalConfirm => "확인", "Confirm";
    PortalBack => "돌아가기", "Back";
    PortalUndoCancel => "해지 취소", "Keep my subscription";
    PortalEndingLead => "이용 종료일에 해지돼요. 그 전까지 해지를 취소할 수 있어요.",
        "It ends on the date above. You can keep it until then.";
    PortalCharges => "결제 내역", "Payments";
    PortalReceipt => "영수증", "Receipt";
    PortalRefunded => "환불", "Refunded";
    PortalChargeFailed => "실패", "Failed";
    PortalChargePending => "확인 중", "Confirming";
    PortalBusy => "처리하고 있어요…", "Working on it…";
    PortalActionFailed => "요청을 처리하지 못했어요. 잠시 후 다시 시도해 주세요.",
        "The request could not be completed. Please try again shortly.";
    PortalDone => "처리했어요.", "Done.";
    // The customer API's documented refusals (`portal_refusal_text`).
    PortalSwitchDeclined => "카드사에서 결제를 거절해 플랜이 바뀌지 않았어요. 카드를 바꾼 뒤 다시 시도해 주세요.",
        "The card was declined, so your plan did not change. Change the card and try again.";
    PortalSwitchUnavailable => "지금은 이 플랜으로 바꿀 수 없어요.", "You can't switch to this plan now.";
    PortalChangeClosed => "이 변경은 이제 답할 수 없어요.", "This change can no longer be answered.";
    PortalEnded => "이미 해지된 구독이에요.", "This subscription has already ended.";
    PortalChargeConfirming => "이번 결제를 확인하고 있어요. 잠시 후 다시 시도해 주세요.",
        "This period's payment is still being confirmed. Please try again in a moment.";
    PortalWithdrawClosed => "청약철회 기간이 지났어요. 중도해지나 일반해지를 선택해 주세요.",
        "The withdrawal period is over. Choose one of the other ways to cancel.";
    PortalCardInUse => "구독 중에는 카드를 삭제할 수 없어요. 먼저 구독을 해지해 주세요.",
        "The card can't be removed while a subscription is live. Cancel the subscription first.";
}

/// Our copy for a documented refusal of the customer API (`docs/portal-contract.md` §3), in the
/// page's language; `None` for a code we have no copy for (the merchant's own words are shown).
pub fn portal_refusal_text(code: &str) -> Option<Text> {
    Some(match code {
        "SWITCH_DECLINED" => Text::PortalSwitchDeclined,
        "NOT_ACTIVE" | "SAME_PLAN" | "CYCLE_DIFFERS" => Text::PortalSwitchUnavailable,
        "CHANGE_CLOSED" | "NO_ANSWER_NEEDED" => Text::PortalChangeClosed,
        "CONSENT_WINDOW_NOT_OPEN" => Text::PortalChangeLater,
        "SUBSCRIPTION_ENDED" => Text::PortalEnded,
        "CHARGE_IN_PROGRESS" => Text::PortalChargeConfirming,
        "WITHDRAWAL_PERIOD_OVER" | "WITHDRAWAL_NOT_OFFERED" | "NOTHING_TO_WITHDRAW" => {
            Text::PortalWithdrawClosed
        }
        "LIVE_SUBSCRIPTION" => Text::PortalCardInUse,
        _ => return None,
    })
}

/// The copy for an SDK error (a cancel gets a quiet status line, not an alert).
pub fn sdk_error_text(error: &SdkError) -> Text {
    match error {
        e if e.is_cancel() => Text::Cancelled,
        e if e.is_load_failure() => Text::LoadFailed,
        SdkError::NotSupportedMethod { .. } => Text::NoBillingContract,
        e if e.is_integration_error() => Text::IntegrationError,
        _ => Text::WindowFailed,
    }
}

/// The copy for a backend (or Toss) error code on the success page.
pub fn backend_error_text(code: &str) -> Text {
    match code {
        "CUSTOMER_KEY_MISMATCH" | "NOT_MATCHES_CUSTOMER_KEY" => Text::BackendCustomerMismatch,
        "INVALID_CARD_NUMBER" => Text::BackendInvalidCardNumber,
        "INVALID_CARD_EXPIRATION" => Text::BackendInvalidExpiration,
        "INVALID_STOPPED_CARD" => Text::BackendStoppedCard,
        "REJECT_CARD_COMPANY" => Text::BackendRejectCardCompany,
        "EXCEED_MAX_AUTH_COUNT" => Text::BackendTooManyAttempts,
        "NOT_SUPPORTED_METHOD" => Text::NoBillingContract,
        "TOSS_UNAVAILABLE" | "TOSS_TIMEOUT" | "NETWORK_ERROR" | "TIMEOUT" => {
            Text::BackendUnavailable
        }
        _ => Text::BackendGeneric,
    }
}

/// The longest merchant message the success page shows.
pub const MAX_MERCHANT_MESSAGE_CHARS: usize = 200;

/// The merchant's own words for a refusal whose code our copy does not know. The hand-off goes
/// to the merchant's own backend on the merchant's own origin, so its message is the best
/// explanation there is: shown as text (never markup), control characters dropped, bounded.
/// `None` when our copy knows the code (ours is in the page's language) or there is no message.
pub fn merchant_message(code: &str, message: &str) -> Option<String> {
    if backend_error_text(code) != Text::BackendGeneric {
        return None;
    }
    clean_text(message, MAX_MERCHANT_MESSAGE_CHARS)
}

/// The copy for a refused success redirect.
pub fn redirect_error_text(error: &RedirectError) -> Text {
    match error {
        RedirectError::NotStartedHere => Text::BadLinkNotStarted,
        RedirectError::CustomerKeyMismatch | RedirectError::StateMismatch => Text::BadLinkMismatch,
        _ => Text::BadLinkMalformed,
    }
}

/// The title and body for a fail redirect's code.
pub fn fail_code_text(code: &FailCode) -> (Text, Text) {
    match code {
        FailCode::PayProcessCanceled => (Text::FailCancelledTitle, Text::FailCanceled),
        FailCode::PayProcessAborted => (Text::FailTitle, Text::FailAborted),
        FailCode::RejectCardCompany => (Text::FailTitle, Text::FailRejectCardCompany),
        FailCode::Other(_) | FailCode::Unreadable => (Text::FailTitle, Text::FailGeneric),
    }
}
