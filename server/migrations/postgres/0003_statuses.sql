-- v3 (PostgreSQL): the new subscription statuses. A value added to an enum cannot be used in the
-- transaction that adds it, so this migration only adds them; 0004 uses them.
ALTER TYPE subscription_status ADD VALUE IF NOT EXISTS 'TRIALING';
ALTER TYPE subscription_status ADD VALUE IF NOT EXISTS 'INCOMPLETE';
ALTER TYPE subscription_status ADD VALUE IF NOT EXISTS 'INCOMPLETE_EXPIRED';
CREATE TYPE charge_purpose AS ENUM ('PERIOD', 'PRORATION');
CREATE TYPE change_kind AS ENUM ('TRIAL_CONVERSION', 'PRICE_INCREASE', 'PRICE_DECREASE', 'DOWNGRADE', 'UPGRADE');
CREATE TYPE change_status AS ENUM ('PENDING', 'ACCEPTED', 'DECLINED', 'LAPSED', 'WITHDRAWN', 'APPLIED', 'FAILED');
CREATE TYPE price_change_status AS ENUM ('SCHEDULED', 'WITHDRAWN', 'APPLIED');
CREATE TYPE consent_decision AS ENUM ('ACCEPT', 'DECLINE');
