-- Sign-in fixes: login_failures is pruned.

-- Each sign-in deletes a few counters that no longer count (core/LoginThrottle): blocks that
-- have ended, and unblocked counters whose window has passed. These partial indexes hand
-- each kind over oldest first, so a prune reads only rows it deletes however many are live.
create index login_failures_block_ended on login_failures (blocked_until) where blocked_until is not null;
create index login_failures_window_passed on login_failures (window_started_at) where blocked_until is null;
