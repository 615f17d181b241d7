-- The shortcut file beside the store (tokens.db-shortcut, shortcut.go)
-- stays true only while every writer of the store removes it before it
-- writes. An l402 older than the file does not, and refuses a schema
-- newer than it knows: this version keeps it from writing the store.
SELECT 1;
