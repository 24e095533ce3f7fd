"""Where listings, hits and organisations live: the Store protocol and its two implementations."""
