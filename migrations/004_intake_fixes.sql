-- Timeline events written in one transaction keep the order they were written in (now() is
-- the transaction's start, the same for all of them).
alter table case_events alter column created_at set default clock_timestamp();

-- A message body is searched by its first 100000 characters: PostgreSQL refuses a tsvector
-- over 1 MB, which a long pasted log could reach.
drop index messages_body_search;
create index messages_body_search on messages using gin (to_tsvector('english', left(body, 100000)));
