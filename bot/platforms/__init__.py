"""Platform adapters: each turns a network into neutral events and posts."""
