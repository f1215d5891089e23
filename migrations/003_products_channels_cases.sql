-- Products and their channels; cases, their messages and timelines; triage results.

create table products (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text not null,
  -- replyMode, autoSendMinConfidence, matchMinSimilarity, triageMinConfidence, components.
  settings jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint products_slug_unique unique (slug)
);

create table channels (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references products (id),
  type text not null check (type in ('webhook', 'email', 'github', 'slack')),
  name text not null,
  config jsonb not null default '{}',
  -- The signing secret, as core/SecretCipher stores it (encrypted when a key is configured).
  secret text not null,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index channels_product on channels (product_id);

create sequence case_number_seq;

create table cases (
  id uuid primary key default gen_random_uuid(),
  -- What people say out loud: "case 1042".
  number bigint not null default nextval('case_number_seq'),
  product_id uuid not null references products (id),
  channel_id uuid not null references channels (id),
  -- The conversation on the channel's side: generic externalId, the email thread's first
  -- Message-ID, the GitHub issue, the Slack thread. Follow-ups find their case by it.
  thread_key text not null,
  subject text not null,
  status text not null default 'new' check (
    status in ('new', 'triaged', 'needs_attention', 'awaiting_approval', 'replied', 'resolved', 'closed')
  ),
  type text check (type in ('bug', 'question', 'feature_request', 'incident', 'billing', 'account', 'other')),
  severity text check (severity in ('critical', 'high', 'medium', 'low')),
  assignee_id uuid references users (id),
  customer jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint cases_number_unique unique (number),
  constraint cases_thread_unique unique (channel_id, thread_key)
);

-- Newest first, with the id as tie-breaker: the keyset of the case list.
create index cases_created on cases (created_at desc, id desc);
create index cases_status on cases (status, created_at desc);
create index cases_product on cases (product_id, created_at desc);
create index cases_assignee on cases (assignee_id, created_at desc);
create index cases_subject_search on cases using gin (to_tsvector('english', subject));

create table messages (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  kind text not null check (kind in ('inbound', 'outbound', 'note')),
  -- For inbound messages, the channel's own id for it (email Message-ID, comment id, …).
  external_id text,
  author jsonb not null default '{}',
  author_user_id uuid references users (id),
  body text not null,
  html text,
  metadata jsonb not null default '{}',
  created_at timestamptz not null default now()
);

create index messages_case on messages (case_id, created_at);
create index messages_external on messages (external_id) where external_id is not null;
create index messages_body_search on messages using gin (to_tsvector('english', body));

-- One row per delivery a channel made: the same delivery twice finds its row and answers
-- what the first one created. Claimed first, in the ingestion's transaction, so concurrent
-- copies of one delivery wait for the first and then see it.
create table deliveries (
  channel_id uuid not null references channels (id),
  delivery_key text not null,
  case_id uuid references cases (id),
  message_id uuid references messages (id),
  created_at timestamptz not null default now(),
  primary key (channel_id, delivery_key)
);

-- The timeline: everything that happened to a case, by whom and when.
create table case_events (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  kind text not null,
  actor_user_id uuid references users (id),
  data jsonb not null default '{}',
  created_at timestamptz not null default now()
);

create index case_events_case on case_events (case_id, created_at);

create table triage_results (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  -- The job that produced it: a retry of that job finds its result instead of adding one.
  job_id text not null,
  type text not null,
  severity text not null,
  confidence double precision not null check (confidence between 0 and 1),
  summary text not null,
  reasoning jsonb not null,
  provider text not null,
  model text not null,
  created_at timestamptz not null default now(),
  constraint triage_results_job_unique unique (job_id)
);

create index triage_results_case on triage_results (case_id, created_at desc);
