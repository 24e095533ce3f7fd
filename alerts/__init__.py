"""Tell affected organisations: claim pending hits, render one message per org, send, mark sent."""
