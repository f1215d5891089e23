-- Passages and vectors are searched one product at a time. A space's shared HNSW index,
-- filtered to the product afterwards, walked past every other product's vectors (`pnpm bench
-- kb`: a product with 3.5% of them took 36 ms at 100k passages), and the shared full-text
-- index fetched every product's passages holding a word before the product's were kept. So
-- passages and vectors name their product (an article's or a case's product never changes),
-- and each product has its own partial indexes: full-text, and HNSW in each space.

alter table article_chunks add column product_id uuid references products (id);

update article_chunks c
set product_id = a.product_id
from articles a
where a.id = c.article_id;

alter table article_chunks alter column product_id set not null;

alter table chunk_embeddings add column product_id uuid references products (id);

update chunk_embeddings e
set product_id = a.product_id
from article_chunks c join articles a on a.id = c.article_id
where c.id = e.chunk_id;

alter table chunk_embeddings alter column product_id set not null;

alter table case_embeddings add column product_id uuid references products (id);

update case_embeddings e
set product_id = c.product_id
from cases c
where c.id = e.case_id;

alter table case_embeddings alter column product_id set not null;

-- The indexes of one space and product, on both tables, named after them: made when a space
-- or a product is, on `embedding::vector(N)` for the space's N. A search names both in its
-- WHERE clause, which is how the planner picks the pair's index.
create function create_embedding_indexes(space integer, product uuid) returns void
language plpgsql as $$
declare
  dims integer := (select dimensions from embedding_spaces where id = space);
  suffix text := format('_s%s_p%s', space, replace(product::text, '-', ''));
begin
  if dims is null then
    raise exception 'No embedding space has the id %', space;
  end if;
  execute format(
    'create index if not exists %I on chunk_embeddings using hnsw ((embedding::vector(%s)) vector_cosine_ops) '
      'where space_id = %s and product_id = %L',
    'chunk_embeddings' || suffix, dims, space, product);
  execute format(
    'create index if not exists %I on case_embeddings using hnsw ((embedding::vector(%s)) vector_cosine_ops) '
      'where space_id = %s and product_id = %L',
    'case_embeddings' || suffix, dims, space, product);
end $$;

-- A product's indexes: its passages' words, and its vectors in every space searched or being
-- filled (ProductsRepo.createIndexes, when the product is made).
create function create_product_indexes(product uuid) returns void
language plpgsql as $$
begin
  execute format('create index if not exists %I on article_chunks using gin (search) where product_id = %L',
    'article_chunks_search_p' || replace(product::text, '-', ''), product);
  perform create_embedding_indexes(s.id, product) from embedding_spaces s where s.state <> 'retired';
end $$;

-- Every index of one space, on both tables: a retired space's.
create function drop_embedding_indexes(space integer) returns void
language plpgsql as $$
declare
  name text;
begin
  for name in
    select i.relname from pg_index x join pg_class i on i.oid = x.indexrelid
    where x.indrelid in ('chunk_embeddings'::regclass, 'case_embeddings'::regclass)
      and (starts_with(i.relname, format('chunk_embeddings_s%s_p', space))
        or starts_with(i.relname, format('case_embeddings_s%s_p', space)))
  loop
    execute format('drop index %I', name);
  end loop;
end $$;

-- The shared indexes of 007 give way to the products' own.
drop index article_chunks_search;

do $$
declare
  s record;
begin
  for s in select id from embedding_spaces loop
    execute format('drop index if exists chunk_embeddings_space_%s', s.id);
    execute format('drop index if exists case_embeddings_space_%s', s.id);
  end loop;
end $$;

select create_product_indexes(id) from products;
