-- Passages are ranked by words with Okapi BM25 (KnowledgeRepo.searchPassages), which needs
-- what cover density (`ts_rank_cd`) does without: how rare each word is in the product (its
-- passage count, for the inverse document frequency) and how long each passage is against
-- the product's average. On the retrieval dev set, BM25 over heading-weighted passages found
-- the linked page in the top 5 for 0.66 of the questions where cover density found 0.43.
--
-- A passage's length counts a heading word three times (label A), as BM25's term frequency
-- does: the heading names what the passage is about.
create function passage_length(search tsvector) returns integer
language sql immutable parallel safe as $$
  select coalesce(sum(cardinality(u.positions) + 2 * cardinality(array_positions(u.weights, 'A'))), 0)::integer
  from unnest(search) as u
$$;

alter table article_chunks add column search_length integer generated always as (passage_length(search)) stored;

-- How many of a product's passages hold each lexeme, and how many passages and lexeme
-- occurrences the product has: kept by the trigger below whatever adds or deletes passages
-- (an article's new version, its deletion, a product's deletion), drafts included.
create table passage_lexemes (
  product_id uuid not null references products (id) on delete cascade,
  lexeme text not null,
  passages integer not null check (passages >= 0),
  primary key (product_id, lexeme)
);

create table passage_totals (
  product_id uuid primary key references products (id) on delete cascade,
  passages bigint not null check (passages >= 0),
  total_length bigint not null check (total_length >= 0)
);

-- One statement's passages, counted into the product's statistics (`sign` 1) or out of them
-- (-1). The totals row is written first: it is the product's lock, so two articles of one
-- product written at once (each deleting its old passages, then adding the new) take turns
-- rather than lock shared lexemes in opposite orders and deadlock. A lexeme no passage holds
-- any more keeps its row, at 0.
create function count_passages(sign integer, product uuid, searches tsvector[], lengths integer[]) returns void
language plpgsql as $$
declare
  occurrences bigint := coalesce((select sum(n) from unnest(lengths) as n), 0);
begin
  if sign > 0 then
    insert into passage_totals as t (product_id, passages, total_length)
    values (product, cardinality(searches), occurrences)
    on conflict (product_id) do update
    set passages = t.passages + excluded.passages, total_length = t.total_length + excluded.total_length;

    insert into passage_lexemes as p (product_id, lexeme, passages)
    select product, l.lexeme, count(*)
    from unnest(searches) as s (search), unnest(tsvector_to_array(s.search)) as l (lexeme)
    group by l.lexeme
    on conflict (product_id, lexeme) do update set passages = p.passages + excluded.passages;
  else
    update passage_totals as t
    set passages = t.passages - cardinality(searches), total_length = t.total_length - occurrences
    where t.product_id = product;

    update passage_lexemes as p
    set passages = p.passages - gone.passages
    from (
      select l.lexeme, count(*) as passages
      from unnest(searches) as s (search), unnest(tsvector_to_array(s.search)) as l (lexeme)
      group by l.lexeme
    ) gone
    where p.product_id = product and p.lexeme = gone.lexeme;
  end if;
end $$;

-- The passages a statement added or deleted (both triggers name them `changed`), per product.
-- Passages deleted with their product (a cascade) are not counted down: the product's
-- statistics went with it.
create function passages_changed() returns trigger
language plpgsql as $$
begin
  perform count_passages(case tg_op when 'INSERT' then 1 else -1 end, g.product_id, g.searches, g.lengths)
  from (select c.product_id, array_agg(c.search) as searches, array_agg(c.search_length) as lengths
        from changed c where exists (select from products p where p.id = c.product_id)
        group by c.product_id order by c.product_id) g;
  return null;
end $$;

-- Passages are replaced, never changed (KnowledgeRepo.replaceChunks); a change to their words
-- would leave the counts wrong, so it is refused.
create function passages_unchanged() returns trigger
language plpgsql as $$
begin
  raise exception 'A passage''s words and product are not changed; replace the passage';
end $$;

create trigger article_chunks_added after insert on article_chunks
referencing new table as changed for each statement execute function passages_changed();

create trigger article_chunks_deleted after delete on article_chunks
referencing old table as changed for each statement execute function passages_changed();

create trigger article_chunks_unchanged before update of search, product_id on article_chunks
for each row when (old.search is distinct from new.search or old.product_id is distinct from new.product_id)
execute function passages_unchanged();

-- Passages stored before this migration.
insert into passage_lexemes (product_id, lexeme, passages)
select c.product_id, l.lexeme, count(*)
from article_chunks c, unnest(tsvector_to_array(c.search)) as l (lexeme)
group by c.product_id, l.lexeme;

insert into passage_totals (product_id, passages, total_length)
select product_id, count(*), sum(search_length) from article_chunks group by product_id;

-- A product's full-text index without GIN's pending list: passages written since the last
-- vacuum waited in it, unsorted, and every search read all of it (after loading the retrieval
-- dev set, 7 ms of a 13 ms word half). Writing a passage costs a little more instead.
create or replace function create_product_indexes(product uuid) returns void
language plpgsql as $$
begin
  execute format('create index if not exists %I on article_chunks using gin (search) with (fastupdate = off) where product_id = %L',
    'article_chunks_search_p' || replace(product::text, '-', ''), product);
  perform create_embedding_indexes(s.id, product) from embedding_spaces s where s.state <> 'retired';
end $$;

do $$
declare
  name text;
begin
  for name in
    select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid
    where x.indrelid = 'article_chunks'::regclass and starts_with(i.relname, 'article_chunks_search_p')
  loop
    execute format('alter index %I set (fastupdate = off)', name);
    perform gin_clean_pending_list(name::regclass);
  end loop;
end $$;
