"""The quorum journal: the NameNode's edit log kept on a majority of JournalNodes (HA)."""
