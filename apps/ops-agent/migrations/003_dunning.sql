-- Dunning: the latest invoice outcome Stripe reported for a subscription (ordered by the event's own time),
-- and whether the product account is suspended for an unpaid subscription.
ALTER TABLE subscriptions ADD COLUMN invoice_outcome TEXT CHECK (invoice_outcome IN ('paid', 'failed'));
ALTER TABLE subscriptions ADD COLUMN invoice_version INTEGER;
ALTER TABLE entitlements ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended'));
