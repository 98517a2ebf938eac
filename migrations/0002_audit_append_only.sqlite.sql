-- pvwatch review database, version 2 (SQLite): topic_events is append-only.
CREATE TRIGGER topic_events_no_update BEFORE UPDATE ON topic_events
BEGIN
    SELECT RAISE(ABORT, 'topic_events is append-only: no update');
END;
CREATE TRIGGER topic_events_no_delete BEFORE DELETE ON topic_events
BEGIN
    SELECT RAISE(ABORT, 'topic_events is append-only: no delete');
END;
