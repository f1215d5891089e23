-- Change-prep: pull-request drafts for bugs and incidents no article answers, every one kept.
create table change_preps (
  id uuid primary key default gen_random_uuid(),
  case_id uuid not null references cases (id),
  -- The change_prep job that wrote it: a retry of that job finds it instead of adding one.
  job_id text not null,
  -- {title, summary, reproduction, components, surfaces, risk, testPlan, rollback, relatedCases}
  draft jsonb not null,
  author text not null,
  created_at timestamptz not null default clock_timestamp(),
  constraint change_preps_job_unique unique (job_id)
);

create index change_preps_case on change_preps (case_id, created_at desc);
