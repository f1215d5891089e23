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
