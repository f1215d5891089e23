-- The knowledge base, its embeddings, known-issue matches, the routing decision, and the
-- record of every model call.

-- An embedding space: the vectors one embedding model (and dimension count) makes. Vectors of
-- different spaces never meet. One space is `active` (searched); when the configured model
-- changes, a `building` one is filled in the background and replaces it once complete.
create table embedding_spaces (
  id integer generated always as identity primary key,
  provider text not null,
  model text not null,
  -- pgvector indexes (HNSW) vectors of at most 2000 dimensions.
  dimensions integer not null check (dimensions between 1 and 2000),
  state text not null check (state in ('building', 'active', 'retired')),
  created_at timestamptz not null default now(),
  activated_at timestamptz,
  constraint embedding_spaces_identity_unique unique (provider, model, dimensions)
);

create unique index embedding_spaces_one_active on embedding_spaces ((true)) where state = 'active';
create unique index embedding_spaces_one_building on embedding_spaces ((true)) where state = 'building';

create table articles (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references products (id),
  title text not null,
  body text not null,
  url text,
  tags text[] not null default '{}',
  status text not null check (status in ('published', 'draft')),
  -- Bumped by every change of what is embedded (title, body): an embed_article job names the
  -- version it was sent for, and a job for an older version leaves a newer one alone.
  version integer not null default 1,
  -- The file an import read it from (`pnpm kb import`): importing the folder again updates it.
  source_path text,
  embedding_state text not null default 'pending' check (embedding_state in ('pending', 'ready', 'failed')),
  embedded_version integer,
  created_by uuid references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint articles_source_unique unique (product_id, source_path)
);

create index articles_product on articles (product_id, updated_at desc, id desc);
create index articles_search on articles
  using gin (to_tsvector('english', title || ' ' || left(body, 100000)));

-- An article cut into passages by headings and paragraph windows: what search ranks.
create table article_chunks (
  id uuid primary key default gen_random_uuid(),
  article_id uuid not null references articles (id) on delete cascade,
  ordinal integer not null,
  heading text not null,
  text text not null,
  search tsvector not null,
  constraint article_chunks_ordinal_unique unique (article_id, ordinal)
);

create index article_chunks_search on article_chunks using gin (search);

-- Vectors are stored without a fixed dimension; each space gets its own partial HNSW index on
-- `embedding::vector(N)` when it is created (KnowledgeRepo), so every space is indexed whatever N.
create table chunk_embeddings (
  chunk_id uuid not null references article_chunks (id) on delete cascade,
  space_id integer not null references embedding_spaces (id) on delete cascade,
  embedding vector not null,
  primary key (space_id, chunk_id)
);

create index chunk_embeddings_chunk on chunk_embeddings (chunk_id);

-- A case's text (subject and customer messages) as a vector, for case-to-case matching.
create table case_embeddings (
  case_id uuid not null references cases (id),
  space_id integer not null references embedding_spaces (id) on delete cascade,
  embedding vector not null,
  -- What was embedded, hashed: a follow-up message changes it and the case is embedded again.
  content_hash text not null,
  updated_at timestamptz not null default now(),
  primary key (space_id, case_id)
);

-- One known-issue match run per job: its ranked matches and what it decided.
create table match_results (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  job_id text not null,
  matches jsonb not null,
  reasoning jsonb not null,
  decision text not null check (decision in ('reply', 'change_prep', 'human')),
  reason text not null,
  created_at timestamptz not null default now(),
  constraint match_results_job_unique unique (job_id)
);

create index match_results_case on match_results (case_id, created_at desc);

alter table cases
  add column routing jsonb,
  add column duplicate_of uuid references cases (id),
  add column duplicate_state text check (duplicate_state in ('suggested', 'confirmed', 'dismissed')),
  add column duplicate_score double precision;

-- Every call to a model: what it served, what it cost, how it ended.
create table ai_calls (
  id uuid primary key default gen_random_uuid(),
  case_id uuid references cases (id),
  step text,
  task text not null,
  kind text not null check (kind in ('completion', 'embedding')),
  provider text not null,
  model text not null,
  input_tokens integer,
  output_tokens integer,
  latency_ms integer not null,
  outcome text not null check (outcome in ('ok', 'malformed', 'unavailable', 'timeout')),
  created_at timestamptz not null default now()
);

create index ai_calls_case on ai_calls (case_id, created_at) where case_id is not null;
create index ai_calls_created on ai_calls (created_at desc);

-- The AI provider an admin chose; absent, the environment's. One row at most.
create sequence ai_settings_versions as integer;

create table ai_settings (
  id boolean primary key default true check (id),
  provider text not null check (provider in ('builtin', 'openai')),
  -- The rest is the openai provider's; null (and `{}`) for builtin.
  base_url text,
  -- Model names by tier: { "fast": …, "standard": …, "complex": … }.
  models jsonb not null default '{}',
  embedding_model text,
  -- pgvector indexes (HNSW) vectors of at most 2000 dimensions.
  embedding_dimensions integer check (embedding_dimensions between 1 and 2000),
  timeout_ms integer check (timeout_ms > 0),
  -- AES-256-GCM (core/SecretCipher), never returned.
  api_key_encrypted text,
  -- A new one from the sequence at every change, so a row removed and written again never
  -- repeats one: each process keeps the provider it built for as long as the version stays.
  version integer not null default nextval('ai_settings_versions'),
  updated_by uuid references users (id),
  updated_at timestamptz not null default now(),
  constraint ai_settings_openai_complete check (
    provider = 'builtin'
    or (base_url is not null and embedding_model is not null and embedding_dimensions is not null and timeout_ms is not null)
  )
);
