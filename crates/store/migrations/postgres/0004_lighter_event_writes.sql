-- Every wrong code writes an audit event, so each index on events is paid
-- on the sign-in hot path. The audit log pages by seq (the primary key)
-- and filters by account (events_account_at); these two were not worth
-- their cost per write.
DROP INDEX events_at;
DROP INDEX events_kind_at;
