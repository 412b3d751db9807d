//! CLI commands and daemon wiring (in progress).
