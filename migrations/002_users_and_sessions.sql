-- Users, their refresh-token sessions, and login throttling.

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  name text not null,
  -- scrypt, with its salt and parameters in the value (see core/Passwords).
  password_hash text not null,
  roles text[] not null,
  disabled boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_roles_known check (roles <@ array['admin', 'agent', 'viewer']::text[]),
  constraint users_roles_present check (cardinality(roles) > 0)
);

-- Emails are unique whatever their case: Ann@Example.com and ann@example.com are one user.
create unique index users_email_unique on users (lower(email));

-- One row per refresh token. A login starts a family; each refresh rotates the token,
-- retiring the row (rotated_at) and adding its successor to the family. Presenting a
-- retired token again means it leaked: the whole family is revoked.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  family_id uuid not null,
  user_id uuid not null references users (id) on delete cascade,
  -- SHA-256 of the opaque token; the token itself is never stored.
  token_hash bytea not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  rotated_at timestamptz,
  revoked_at timestamptz
);

create unique index sessions_token_hash_unique on sessions (token_hash);
create index sessions_family on sessions (family_id);
create index sessions_user on sessions (user_id) where revoked_at is null;

-- Failed logins per email and per client address, in a sliding window; a key over its
-- limit is blocked until blocked_until.
create table login_failures (
  scope text not null check (scope in ('email', 'address')),
  key text not null,
  failures integer not null,
  window_started_at timestamptz not null,
  blocked_until timestamptz,
  primary key (scope, key)
);
