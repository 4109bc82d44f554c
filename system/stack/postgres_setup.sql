-- Applied to the stack's private PostgreSQL cluster (database "postgres", the one FerretDB
-- uses) in single-user mode before the server starts, whenever this file changes
-- (system/stack/postgres.py). Statements end with a semicolon and a blank line (`-j`).
--
-- FerretDB v1 keeps a collection as a table with one jsonb column, `_jsonb`, and a unique
-- btree index on `_jsonb -> '_id'`. It pushes an `_id` equality down as
-- `_jsonb -> '_id' @> <value>`, which a btree index cannot serve, so every read, update or
-- delete by `_id` scanned the whole table: 153 ms per lookup at 100k stored events, and the
-- dashboard's lookups by event id grew with every event stored. A GIN index on the same
-- expression serves `@>`: 0.16 ms in PostgreSQL for that lookup (EXPLAIN ANALYZE), with no
-- cost the sink path's rate showed (benchmarks/results/sink-path.md: 2,463 events/s without
-- it, 2,599 with it, within the noise). FerretDB creates tables as
-- collections appear (and a run drops and recreates them), so an event trigger adds the
-- index to every table it creates with a `_jsonb` column; FerretDB never sees it.

CREATE OR REPLACE FUNCTION iotbench_index_ferretdb_ids() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN SELECT objid, object_identity FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = created.objid
               AND attname = '_jsonb' AND NOT attisdropped) THEN
      EXECUTE format('CREATE INDEX ON %s USING gin ((_jsonb -> ''_id'') jsonb_path_ops)',
                     created.object_identity);
    END IF;
  END LOOP;
END
$$;

DROP EVENT TRIGGER IF EXISTS iotbench_index_ferretdb_ids;

CREATE EVENT TRIGGER iotbench_index_ferretdb_ids ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION iotbench_index_ferretdb_ids();
