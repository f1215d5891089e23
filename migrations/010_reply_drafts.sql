-- Reply drafts: at most one per case, every version kept.

create table drafts (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  -- The newest version: approving any other is a conflict.
  latest_version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint drafts_case_unique unique (case_id)
);

create table draft_versions (
  draft_id uuid not null references drafts (id),
  version integer not null check (version > 0),
  status text not null check (status in ('pending', 'approved', 'rejected', 'superseded', 'sent')),
  body text not null,
  -- [{n, articleId, chunkId, title, url}]: what the body's [n] markers name.
  citations jsonb not null default '[]',
  -- {kind: model | user, name, userId}
  author jsonb not null,
  reasoning jsonb not null default '[]',
  -- The auto_reply job that wrote it: a retry of that job finds it instead of adding one.
  job_id text,
  -- The customer's newest message when the version was made: a newer one makes approving it a conflict.
  answers_message_id uuid references messages (id),
  decision text,
  decided_by uuid references users (id),
  decided_at timestamptz,
  created_at timestamptz not null default clock_timestamp(),
  primary key (draft_id, version),
  constraint draft_versions_job_unique unique (job_id)
);

-- The approval queue: versions waiting, oldest first.
create index draft_versions_pending on draft_versions (created_at, draft_id) where status = 'pending';
