"""The JournalNode daemon: durable copies of the edit log segments and epoch promises."""
