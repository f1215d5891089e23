-- Sign-in hardening: a refresh reuse grace window, and login throttling that cannot lock
-- an account's owner out.

-- A rotated refresh token presented again within a short grace window (two tabs refreshing
-- at once) answers the successor it was already traded for. The successor's token is kept
-- for that, encrypted with ENCRYPTION_KEY (core/SecretCipher), on the row it replaced, and
-- dropped once the window has passed, the successor is rotated in turn, or the family is
-- revoked. Only rows inside their window hold one.
alter table sessions add column successor_token text;
create index sessions_successor_copies on sessions (rotated_at) where successor_token is not null;

-- Failures are counted per (email, address) pair, which is blocked past its limit, per
-- address, likewise, and per email across addresses, which only slows sign-ins down. The
-- email scope used to block: its rows, and any block an attacker set on an account with
-- them, are dropped, and start over under the new rule.
alter table login_failures drop constraint login_failures_scope_check;
alter table login_failures
  add constraint login_failures_scope_check check (scope in ('email', 'address', 'email_address'));
delete from login_failures where scope = 'email';
