-- Replies delivered back through the customer's channel: each approved draft version is one
-- outbound message, with its delivery state.

alter table messages
  add column draft_id uuid references drafts (id),
  add column draft_version integer,
  add column delivery_state text check (delivery_state in ('sending', 'sent', 'failed')),
  -- Why the last attempt failed (kept while retrying; the reason when it failed for good).
  add column delivery_error text,
  add column delivered_at timestamptz;

-- One message per draft version, whatever retries and approvals race.
create unique index messages_draft_version on messages (draft_id, draft_version) where draft_id is not null;

-- "The customer's newest message" is the one created last: stamped when it is written, not when
-- its transaction began (two deliveries to one case take turns on its lock).
alter table messages alter column created_at set default clock_timestamp();
