-- pvwatch review database, version 2 (PostgreSQL): topic_events is append-only.
-- PL/pgSQL is built into every PostgreSQL since 9.0; the README also shows how to
-- REVOKE UPDATE, DELETE, TRUNCATE on topic_events from the app's role.
CREATE FUNCTION topic_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'topic_events is append-only: no %', lower(TG_OP);
END
$$;
CREATE TRIGGER topic_events_no_update_delete BEFORE UPDATE OR DELETE ON topic_events
    FOR EACH ROW EXECUTE FUNCTION topic_events_append_only();
CREATE TRIGGER topic_events_no_truncate BEFORE TRUNCATE ON topic_events
    FOR EACH STATEMENT EXECUTE FUNCTION topic_events_append_only();
