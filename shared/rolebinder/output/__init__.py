"""Where outcomes are written: the journal of JSON lines Log Service indexes."""
