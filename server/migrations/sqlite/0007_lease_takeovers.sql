-- Who held the lease that a claim replaced: NULL when the row was free (every runner releases its
-- lease when it is done), the previous owner's name when that lease had lapsed unreleased (its
-- runner crashed, stalled or lost the database). Written by every claim, read back by it for
-- billing_leases_taken_over_total.
ALTER TABLE exchanges ADD COLUMN lease_taken_from TEXT;
ALTER TABLE charges ADD COLUMN lease_taken_from TEXT;
ALTER TABLE subscriptions ADD COLUMN lease_taken_from TEXT;
