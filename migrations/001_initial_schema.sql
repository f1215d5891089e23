-- NestFleet's first schema. Vectors (knowledge base and past-case search) live in the same
-- database as everything else, so pgvector is enabled from the start.
create extension if not exists vector;
